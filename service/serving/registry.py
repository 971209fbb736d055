"""The models this process serves, loaded at startup and swapped when CURRENT changes.

A Watcher thread looks at the store every reload interval and loads what changed; requests
only read `current`, a dict that is replaced, never changed in place, so a request sees one
consistent map and keeps the predictor it took even if a newer one is swapped in meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict

from model_store import ModelNotFound, Pointer, Store, StoreError, VersionNotFound, validate_name

from ..errors import ModelUnavailable
from .predictor import Predictor
from .watcher import Watcher

log = logging.getLogger("service.serving.registry")

PINNED_CACHE = 16  # pinned (non-current) versions kept loaded per process


class Registry:
    """Serve the current version of every model; refuse versions that fail to load."""

    def __init__(self, store: Store, *, max_batch: int, reload_interval: float) -> None:
        self.store, self.max_batch, self.interval = store, max_batch, reload_interval
        # Both replaced whole on every change (copy on write): readers need no lock.
        self.current: dict[str, Predictor] = {}
        self.errors: dict[str, str] = {}  # model -> why its CURRENT is not what we serve
        self._seen: dict[str, int | None] = {}  # CURRENT contents last acted on
        self._failed: dict[str, str | None] = {}  # model -> token of the CURRENT that failed
        self._pinned: OrderedDict[tuple[str, int], Predictor] = OrderedDict()
        self._refresh_lock = threading.Lock()  # one look at a time
        self._pinned_lock = threading.Lock()  # never held while the store is read
        self._watcher: Watcher | None = None
        self._watcher_lock = threading.Lock()
        self._pid = os.getpid()
        self.on_load_failure = lambda model: None  # metrics hook

    def _load(self, name: str, version: int) -> Predictor:
        return Predictor(self.store.load(name, version), self.max_batch)

    def _fallback(self, name: str) -> Predictor | None:
        """Load what a process with nothing to serve yet should serve when CURRENT is broken.

        The most recently promoted version that loads comes first, so a fresh worker serves
        what the older workers kept serving; then the newest version that loads (for stores
        without a promotion history).
        """
        try:
            promoted = self.store.promoted_versions(name)
            versions = promoted + [
                v for v in reversed(self.store.versions(name)) if v not in promoted
            ]
        except StoreError:
            return None
        for version in versions:
            try:
                return self._load(name, version)
            except (StoreError, ValueError, KeyError):
                continue
        return None

    def _apply(self, name: str, current: Pointer) -> None:
        pointer = self._seen[name] = current.version
        try:
            if pointer is None:
                if self._never_promoted(name):
                    return  # versions stored, none made current (the gate refused them)
                raise VersionNotFound(f"model {name!r} has no readable CURRENT version")
            predictor = self._load(name, pointer)
        except (StoreError, ValueError, KeyError) as exc:
            self._set_error(name, f"version {pointer} of {name!r} failed to load: {exc}")
            self._failed[name] = current.token
            self.on_load_failure(name)
            serving = self.current.get(name) or self._fallback(name)
            if serving is not None:
                self._serve(name, serving)
            log.error(
                "model load failed",
                extra={
                    "model": name,
                    "version": pointer,
                    "error": str(exc),
                    "serving": serving.version if serving else None,
                },
            )
            return
        self._serve(name, predictor)
        self._set_error(name, None)
        self._failed.pop(name, None)
        log.info("model loaded", extra={"model": name, "version": pointer})

    def _serve(self, name: str, predictor: Predictor | None) -> None:
        """Serve predictor as name's current version (None: stop serving name)."""
        current = dict(self.current)
        if predictor is None:
            current.pop(name, None)
        else:
            current[name] = predictor
        self.current = current

    def _set_error(self, name: str, error: str | None) -> None:
        """Record why name's CURRENT is not served (None: clear it)."""
        if error is not None or name in self.errors:
            errors = dict(self.errors)
            if error is None:
                del errors[name]
            else:
                errors[name] = error
            self.errors = errors

    def _never_promoted(self, name: str) -> bool:
        """Tell a model that simply has no CURRENT yet from one whose CURRENT is broken."""
        try:
            self.store.current_version(name)
        except VersionNotFound:
            self._set_error(name, None)
            self._serve(name, None)
            return True
        except StoreError:
            return False
        return False

    def refresh(self) -> None:
        """Look at the store once and load every model whose CURRENT changed since the last look.

        Blocks while another look is under way, then looks again, so a caller that has just
        switched a CURRENT (the promotion endpoint) serves it when this returns.
        """
        with self._refresh_lock:
            try:
                state = self.store.pointers()
            except StoreError as exc:  # object storage unreachable: keep serving, look again
                log.warning("model store poll failed", extra={"error": str(exc)})
                return
            for name, pointer in state.items():
                if self._seen.get(name, -1) != pointer.version or self._rewritten(name, pointer):
                    self._apply(name, pointer)
            for name in set(self.current) - set(state):
                self._serve(name, None)  # removed from the store by an operator

    def _rewritten(self, name: str, pointer: Pointer) -> bool:
        """Tell whether a CURRENT that failed to load was written again (e.g. re-promoted)."""
        return name in self._failed and pointer.token != self._failed[name]

    def watch(self) -> None:
        """Make sure this process's watcher thread runs (cheap: called before every request).

        Started by the app factory; started again in a forked child (threads do not survive a
        fork) or if it ever ended.
        """
        watcher = self._watcher
        if watcher is None or not watcher.is_alive():
            with self._watcher_lock:
                if self._watcher is watcher:
                    if self._pid != os.getpid():
                        # Forked: a look under way in the parent left its lock held for good.
                        self._refresh_lock, self._pid = threading.Lock(), os.getpid()
                    self._watcher = Watcher(self, self.interval)
                    self._watcher.start()

    def close(self) -> None:
        """Stop the watcher thread (it ends at once unless a look is under way)."""
        if self._watcher is not None:
            self._watcher.stop()

    def get(self, name: str, version: int | None = None) -> Predictor:
        """Return the predictor of `name` at `version` (None: the served current version)."""
        current = self.current.get(name)
        if current is not None and version is None:
            return current  # the hot path: a served name is a valid one
        validate_name(name)  # before any other lookup or path; the message does not echo it
        if version is None or (current is not None and current.version == version):
            if current is None:
                error = self.errors.get(name)
                if error is not None:
                    raise ModelUnavailable(error)
                if name in self._seen:  # stored, but no version was ever made current
                    raise ModelNotFound(
                        f"model {name!r} has no current version: none of its versions was "
                        "promoted (see its versions' cards; PUT /models/{name}/current)"
                    )
                raise ModelNotFound(f"model {name!r} not found")
            return current
        key = (name, version)
        with self._pinned_lock:
            if key in self._pinned:
                self._pinned.move_to_end(key)
                return self._pinned[key]
        predictor = self._load(name, version)
        with self._pinned_lock:
            self._pinned[key] = predictor
            while len(self._pinned) > PINNED_CACHE:
                self._pinned.popitem(last=False)
        return predictor
