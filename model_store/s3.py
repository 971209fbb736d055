"""The S3-compatible object storage backend: conditional writes instead of renames and locks.

A version becomes visible when its model.json is created with ``If-None-Match: *`` after its
weights and attachments were uploaded under their SHA-256; a 412 means another publisher took
the number, so the next one is tried. CURRENT is replaced by a compare-and-swap on its ETag
(``If-Match``), and carries a promotion number that names the one history object each
promotion creates. A server that ignores these conditions is detected before the first write
and refused for writing.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from typing import Any, NamedTuple

from .base import Pointer, Published, Staged, Store
from .errors import StoreError
from .format import (
    BLOBS_DIR,
    HISTORY_FILE,
    META_FILE,
    POINTER_FILE,
    decode_history_entry,
    decode_numbered_pointer,
    encode_document,
    encode_pointer,
    history_entry,
    pointer_object,
    pointer_object_model,
)
from .names import MAX_VERSION, is_model_dirname, is_version_dirname, validate_name
from .s3_requests import (
    REFUSED,
    Bucket,
    Conflict,
    Missing,
    Unchanged,
    make_client,
    parse_location,
)

__all__ = ["REFUSED", "S3Store", "make_client", "parse_location"]

_PROBE_DIR = ".probe"  # not a valid model name, so listings never take it for a model
# An ETag no object has: If-Match with it must fail on a server that checks the condition.
_NO_SUCH_ETAG = '"00000000000000000000000000000000"'


class _Held(NamedTuple):
    """A CURRENT object as last read or written: its key, content and ETag."""

    key: str
    data: bytes
    etag: str


class S3Store(Store):
    """Store model versions in a bucket under <prefix>/<model>/ (see format.py for the keys).

    Endpoint, region and credentials come from the usual AWS variables (AWS_ENDPOINT_URL or
    AWS_ENDPOINT_URL_S3, AWS_REGION or AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_PROFILE, ...).
    """

    max_switch_attempts: int = 100

    def __init__(self, location: str, *, client: Any = None) -> None:
        self.location = location
        self.bucket, self.prefix = parse_location(location)
        self._objects = Bucket(self.bucket, self.prefix, client)
        self._held: dict[str, _Held] = {}  # key of a CURRENT -> what it held when last seen
        self._earlier_read: set[str] = set()  # models whose earlier-layout CURRENT was read
        self._versioned: set[str] = set()  # models known to have a version (never undone)
        self._enforced: bool | None = None  # conditional writes, once probed

    def list_models(self) -> list[str]:
        """Return the sorted names of models that have at least one published version."""
        return [name for name in self._top_level()[0] if self._version_numbers(name)]

    def pointers(self) -> dict[str, Pointer]:
        """Return {model: Pointer}; the token is CURRENT's ETag.

        Costs one LIST of the top level (a page per 500 models), which names the models and
        carries every CURRENT's ETag, plus a GET per CURRENT changed since this object last
        saw it. A model without a top-level CURRENT costs once per process a GET of its
        earlier-layout CURRENT, and a LIST of its versions on each call until it has one.
        """
        models, etags = self._top_level()
        state: dict[str, Pointer] = {}
        for name in models:
            held = self._listed_pointer(name, etags.get(name))
            if held is not None:
                state[name] = Pointer(decode_numbered_pointer(held.data)[0], held.etag)
            elif self._has_versions(name):
                state[name] = Pointer(None, None)
        return state

    def current_token(self, name: str) -> str | None:
        """Return CURRENT's ETag, or None if it is absent (one conditional GET)."""
        found = self._fetch_pointer(validate_name(name))
        return None if found is None else found.etag

    def check_conditional_writes(self) -> None:
        """Probe once that the server enforces conditional writes; raise StoreError if not.

        Called before the first write of this object; call it at start-up to fail early.
        """
        if self._enforced is None:
            self._enforced = self._probe()
        if not self._enforced:
            raise StoreError(REFUSED)

    # -- Backend primitives -----------------------------------------------------------------

    def _version_numbers(self, name: str) -> list[int]:
        names = self._objects.list(self._key(name)).folders
        return sorted(int(n) for n in names if is_version_dirname(n))

    def _has_version(self, name: str, version: int) -> bool:
        return self._objects.has_any(self._key(name, str(version)))

    def _read_pointer_version(self, name: str) -> tuple[bool, int | None]:
        found = self._fetch_pointer(name)
        return (False, None) if found is None else (True, decode_numbered_pointer(found.data)[0])

    def _read_member(
        self, name: str, version: int, filename: str, sha256: str | None
    ) -> bytes | None:
        # Weights and attachments are found by their digest, model.json by the version.
        key = self._blob(name, sha256) if sha256 else self._key(name, str(version), META_FILE)
        try:
            return self._objects.get(key)[0]
        except Missing:
            return None

    def _promotion_log(self, name: str) -> list[int]:
        return [version for _, version in self._history_entries(name)]

    def _publish(self, name: str, staged: Staged, promote: bool) -> Published:
        self.check_conditional_writes()
        # Content-addressed, so rewriting a blob another version shares writes the same bytes.
        self._objects.put(self._blob(name, staged.weights_sha256), staged.weights)
        for data in staged.attachments.values():
            self._objects.put(self._blob(name, hashlib.sha256(data).hexdigest()), data)
        version = max(self._version_numbers(name), default=0) + 1
        for _ in range(self.max_publish_attempts):
            if version > MAX_VERSION:
                raise StoreError(f"model {name!r} has run out of version numbers")
            document = encode_document(staged.meta, name, version, staged.weights_sha256)
            try:
                # The manifest goes last: the version exists for readers only once it does.
                meta_key = self._key(name, str(version), META_FILE)
                self._objects.put(meta_key, document, IfNoneMatch="*")
            except Conflict:
                # Another publisher took the number (or is taking it): count again.
                version = max([version, *self._version_numbers(name)]) + 1
                continue
            current = promote and self._swap_pointer(name, version, unless_newer=True)
            return Published(version, current)
        raise StoreError(f"model {name!r}: could not allocate a version number")

    def _switch(self, name: str, version: int) -> None:
        self._swap_pointer(name, version, unless_newer=False)

    def _swap_pointer(self, name: str, version: int, *, unless_newer: bool) -> bool:
        """Compare-and-swap CURRENT to version, then record the promotion under its number.

        With unless_newer (publish), a CURRENT already naming a newer version is left alone,
        so concurrent publishers end as if they had published one after the other; returns
        whether CURRENT was switched.
        """
        self.check_conditional_writes()
        key = self._key(pointer_object(name))
        for _ in range(self.max_switch_attempts):
            found = self._fetch_pointer(name)
            held, promotion = (None, None) if found is None else decode_numbered_pointer(found.data)
            if unless_newer and held is not None and held > version:
                return False
            if promotion is None:  # no CURRENT yet, or one an operator wrote by hand
                promotion = max((e[0] for e in self._history_entries(name)), default=0)
            data = encode_pointer(version, promotion + 1)
            # An earlier-layout CURRENT is taken over by creating the top-level one.
            swap = found is not None and found.key == key
            condition = {"IfMatch": found.etag} if swap else {"IfNoneMatch": "*"}
            try:
                etag = self._objects.put(key, data, **condition)
            except (Conflict, Missing):
                continue  # someone else switched it in between: read it again
            self._held[key] = _Held(key, data, etag)
            # After the switch, so the history never names a version CURRENT did not hold.
            entry = self._key(name, HISTORY_FILE, history_entry(promotion + 1, version))
            with contextlib.suppress(Conflict):  # already recorded
                self._objects.put(entry, b"", IfNoneMatch="*")
            return True
        raise StoreError(f"model {name!r}: CURRENT kept changing; the promotion was not applied")

    def _history_entries(self, name: str) -> list[tuple[int, int]]:
        """Return (promotion number, version) of every recorded promotion."""
        names = self._objects.list(self._key(name, HISTORY_FILE)).objects
        return sorted(e for e in map(decode_history_entry, names) if e is not None)

    # -- CURRENT ------------------------------------------------------------------------------

    def _top_level(self) -> tuple[list[str], dict[str, str]]:
        """Return the sorted model folders and {model: its CURRENT's ETag}, from one LIST."""
        listing = self._objects.list(self.prefix)
        etags = {}
        for entry, etag in listing.objects.items():
            model = pointer_object_model(entry)
            if model is not None:
                etags[model] = etag
        return sorted(n for n in listing.folders if is_model_dirname(n)), etags

    def _listed_pointer(self, name: str, etag: str | None) -> _Held | None:
        """Return a listed model's CURRENT, reading it only if its ETag is not the one held."""
        if etag is not None:
            key = self._key(pointer_object(name))
            held = self._held.get(key)
            # Servers differ in quoting ETags in listings; the value inside is what counts.
            if held is not None and held.etag.strip('"') == etag.strip('"'):
                return held
            found = self._read_pointer_object(key)
            if found is not None:
                return found
        # None at the top level: read the earlier layout's once (nothing writes it any more).
        legacy = self._key(name, POINTER_FILE)
        if name not in self._earlier_read:
            self._read_pointer_object(legacy)
            self._earlier_read.add(name)
        return self._held.get(legacy)

    def _has_versions(self, name: str) -> bool:
        """Tell whether a model has a version, asking the bucket until it has one."""
        if name not in self._versioned and self._version_numbers(name):
            self._versioned.add(name)
        return name in self._versioned

    def _fetch_pointer(self, name: str) -> _Held | None:
        """Return CURRENT as it is now: the top-level object, else the earlier layout's."""
        found = self._read_pointer_object(self._key(pointer_object(name)))
        return found or self._read_pointer_object(self._key(name, POINTER_FILE))

    def _read_pointer_object(self, key: str) -> _Held | None:
        """GET a CURRENT object, conditional on the ETag held (304 keeps it); None if absent."""
        held = self._held.get(key)
        condition = {} if held is None else {"IfNoneMatch": held.etag}
        try:
            data, etag = self._objects.get(key, **condition)
        except Unchanged:
            assert held is not None
            return held
        except Missing:
            self._held.pop(key, None)
            return None
        self._held[key] = found = _Held(key, data, etag)
        return found

    def _probe(self) -> bool:
        """Tell whether the server refuses a second create and a wrong If-Match (412 each)."""
        key = self._key(_PROBE_DIR, uuid.uuid4().hex)
        self._objects.put(key, b"probe", IfNoneMatch="*")
        try:
            refused = []
            for condition in ({"IfNoneMatch": "*"}, {"IfMatch": _NO_SUCH_ETAG}):
                try:
                    self._objects.put(key, b"probe again", **condition)
                    refused.append(False)
                except Conflict:
                    refused.append(True)
            return all(refused)
        finally:
            self._objects.call("delete_object", Key=key)

    def _key(self, *parts: str) -> str:
        return self._objects.key(*parts)

    def _blob(self, name: str, sha256: str) -> str:
        return self._key(name, BLOBS_DIR, sha256)
