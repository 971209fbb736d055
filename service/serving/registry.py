"""The models this process serves, loaded at startup and swapped when CURRENT changes."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

from model_store import ModelNotFound, Pointer, Store, StoreError, VersionNotFound, validate_name

from ..errors import ModelUnavailable
from .predictor import Predictor

log = logging.getLogger("service.serving.registry")

PINNED_CACHE = 16  # pinned (non-current) versions kept loaded per process


class Registry:
    """Serve the current version of every model; refuse versions that fail to load."""

    def __init__(self, store: Store, *, max_batch: int, reload_interval: float) -> None:
        self.store, self.max_batch, self.interval = store, max_batch, reload_interval
        self.current: dict[str, Predictor] = {}
        self.errors: dict[str, str] = {}  # model -> why its CURRENT is not what we serve
        self._seen: dict[str, int | None] = {}  # CURRENT contents last acted on
        self._failed: dict[str, str | None] = {}  # model -> token of the CURRENT that failed
        self._pinned: OrderedDict[tuple[str, int], Predictor] = OrderedDict()
        self._lock = threading.Lock()
        self._next_check = 0.0
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
            self.errors[name] = f"version {pointer} of {name!r} failed to load: {exc}"
            self._failed[name] = current.token
            self.on_load_failure(name)
            serving = self.current.get(name) or self._fallback(name)
            if serving is not None:
                self.current[name] = serving
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
        self.current[name] = predictor
        self.errors.pop(name, None)
        self._failed.pop(name, None)
        log.info("model loaded", extra={"model": name, "version": pointer})

    def _never_promoted(self, name: str) -> bool:
        """Tell a model that simply has no CURRENT yet from one whose CURRENT is broken."""
        try:
            self.store.current_version(name)
        except VersionNotFound:
            self.errors.pop(name, None)
            self.current.pop(name, None)
            return True
        except StoreError:
            return False
        return False

    def refresh(self) -> None:
        """Load every model whose CURRENT changed since the last look."""
        if not self._lock.acquire(blocking=False):
            return  # another thread is already refreshing
        try:
            self._next_check = time.monotonic() + self.interval
            try:
                state = self.store.pointers()
            except StoreError as exc:  # object storage unreachable: keep serving, look again
                log.warning("model store poll failed", extra={"error": str(exc)})
                return
            for name, pointer in state.items():
                if self._seen.get(name, -1) != pointer.version or self._rewritten(name, pointer):
                    self._apply(name, pointer)
            for name in set(self.current) - set(state):
                del self.current[name]  # removed from the store by an operator
        finally:
            self._lock.release()

    def _rewritten(self, name: str, pointer: Pointer) -> bool:
        """Tell whether a CURRENT that failed to load was written again (e.g. re-promoted)."""
        return name in self._failed and pointer.token != self._failed[name]

    def maybe_refresh(self) -> None:
        """Refresh when the reload interval has passed; cheap enough for every request."""
        if time.monotonic() >= self._next_check:
            self.refresh()

    def get(self, name: str, version: int | None = None) -> Predictor:
        """Return the predictor of `name` at `version` (None: the served current version)."""
        current = self.current.get(name)
        if current is not None and version is None:
            return current  # the hot path: a served name is a valid one
        validate_name(name)  # before any other lookup or path; the message does not echo it
        if version is None or (current is not None and current.version == version):
            if current is None:
                if name in self.errors:
                    raise ModelUnavailable(self.errors[name])
                if name in self._seen:  # stored, but no version was ever made current
                    raise ModelNotFound(
                        f"model {name!r} has no current version: none of its versions was "
                        "promoted (see its versions' cards; PUT /models/{name}/current)"
                    )
                raise ModelNotFound(f"model {name!r} not found")
            return current
        key = (name, version)
        with self._lock:
            if key in self._pinned:
                self._pinned.move_to_end(key)
                return self._pinned[key]
        predictor = self._load(name, version)
        with self._lock:
            self._pinned[key] = predictor
            while len(self._pinned) > PINNED_CACHE:
                self._pinned.popitem(last=False)
        return predictor
