"""The S3-compatible object storage backend: conditional writes instead of renames and locks.

A version becomes visible when its model.json is created with ``If-None-Match: *`` after its
weights and attachments were uploaded under their SHA-256; a 412 means another publisher took
the number, so the next one is tried. CURRENT is replaced by a compare-and-swap on its ETag
(``If-Match``), and carries a promotion number that names the one history object each
promotion creates. A server that ignores these conditions is detected before the first write
and refused for writing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import Pointer, Published, Staged, Store
from .errors import InvalidName, StoreError
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
)
from .names import MAX_VERSION, is_model_dirname, is_version_dirname, validate_name

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
_PROBE_DIR = ".probe"  # not a valid model name, so listings never take it for a model
# An ETag no object has: If-Match with it must fail on a server that checks the condition.
_NO_SUCH_ETAG = '"00000000000000000000000000000000"'

REFUSED = (
    "the object storage server does not enforce conditional writes (If-None-Match: * and "
    "If-Match on PutObject), so two publishers could take the same version: publishing and "
    "promotion are refused on this store (reading still works); use a server that enforces "
    "them, such as AWS S3"
)


class _Missing(Exception):
    """The object does not exist (404)."""


class _Unchanged(Exception):
    """The object still has the ETag given in If-None-Match (304)."""


class _Conflict(Exception):
    """A condition failed (412), or a concurrent conditional write is in progress (409)."""


class S3Store(Store):
    """Store model versions in a bucket under <prefix>/<model>/ (see format.py for the keys).

    Endpoint, region and credentials come from the usual AWS variables (AWS_ENDPOINT_URL or
    AWS_ENDPOINT_URL_S3, AWS_REGION or AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_PROFILE, ...).
    """

    max_switch_attempts: int = 100

    def __init__(self, location: str, *, client: Any = None) -> None:
        self.location = location
        self.bucket, self.prefix = parse_location(location)
        self._given_client = client
        self._client_pid = -1
        self._s3: Any = None
        self._pointer_cache: dict[str, tuple[bytes, str]] = {}  # model -> (CURRENT, its ETag)
        self._enforced: bool | None = None  # conditional writes, once probed

    def list_models(self) -> list[str]:
        """Return the sorted names of models that have at least one published version."""
        return [name for name in self._model_names() if self._version_numbers(name)]

    def pointers(self) -> dict[str, Pointer]:
        """Return {model: Pointer}; the token is CURRENT's ETag.

        Costs one LIST of the prefix plus one GET per model, conditional on the ETag seen last
        so an unchanged CURRENT answers 304 without a body (a model never promoted costs a
        LIST of its versions instead).
        """
        state: dict[str, Pointer] = {}
        for name in self._model_names():
            found = self._fetch_pointer(name)
            if found is not None:
                state[name] = Pointer(decode_numbered_pointer(found[0])[0], found[1])
            elif self._version_numbers(name):
                state[name] = Pointer(None, None)
        return dict(sorted(state.items()))

    def current_token(self, name: str) -> str | None:
        """Return CURRENT's ETag, or None if it is absent (one conditional GET)."""
        found = self._fetch_pointer(validate_name(name))
        return None if found is None else found[1]

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
        names = self._list_dirs(self._key(name) + "/")
        return sorted(int(n) for n in names if is_version_dirname(n))

    def _has_version(self, name: str, version: int) -> bool:
        page = self._call("list_objects_v2", Prefix=self._key(name, str(version)) + "/", MaxKeys=1)
        return page.get("KeyCount", 0) > 0

    def _read_pointer_version(self, name: str) -> tuple[bool, int | None]:
        found = self._fetch_pointer(name)
        return (False, None) if found is None else (True, decode_numbered_pointer(found[0])[0])

    def _read_member(
        self, name: str, version: int, filename: str, sha256: str | None
    ) -> bytes | None:
        # Weights and attachments are found by their digest, model.json by the version.
        key = self._blob(name, sha256) if sha256 else self._key(name, str(version), META_FILE)
        try:
            return self._get(key)[0]
        except _Missing:
            return None

    def _promotion_log(self, name: str) -> list[int]:
        return [version for _, version in self._history_entries(name)]

    def _publish(self, name: str, staged: Staged, promote: bool) -> Published:
        self.check_conditional_writes()
        # Content-addressed, so rewriting a blob another version shares writes the same bytes.
        self._put(self._blob(name, staged.weights_sha256), staged.weights)
        for data in staged.attachments.values():
            self._put(self._blob(name, hashlib.sha256(data).hexdigest()), data)
        version = max(self._version_numbers(name), default=0) + 1
        for _ in range(self.max_publish_attempts):
            if version > MAX_VERSION:
                raise StoreError(f"model {name!r} has run out of version numbers")
            document = encode_document(staged.meta, name, version, staged.weights_sha256)
            try:
                # The manifest goes last: the version exists for readers only once it does.
                self._put(self._key(name, str(version), META_FILE), document, IfNoneMatch="*")
            except _Conflict:
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
        key = self._key(name, POINTER_FILE)
        for _ in range(self.max_switch_attempts):
            found = self._fetch_pointer(name)
            held, promotion = (None, None) if found is None else decode_numbered_pointer(found[0])
            if unless_newer and held is not None and held > version:
                return False
            if promotion is None:  # no CURRENT yet, or one an operator wrote by hand
                promotion = max((e[0] for e in self._history_entries(name)), default=0)
            data = encode_pointer(version, promotion + 1)
            condition = {"IfNoneMatch": "*"} if found is None else {"IfMatch": found[1]}
            try:
                etag = self._put(key, data, **condition)
            except (_Conflict, _Missing):
                continue  # someone else switched it in between: read it again
            self._pointer_cache[name] = (data, etag)
            # After the switch, so the history never names a version CURRENT did not hold.
            entry = self._key(name, HISTORY_FILE, history_entry(promotion + 1, version))
            with contextlib.suppress(_Conflict):  # already recorded
                self._put(entry, b"", IfNoneMatch="*")
            return True
        raise StoreError(f"model {name!r}: CURRENT kept changing; the promotion was not applied")

    def _history_entries(self, name: str) -> list[tuple[int, int]]:
        """Return (promotion number, version) of every recorded promotion."""
        entries = [decode_history_entry(n) for n in self._list_keys(self._key(name, HISTORY_FILE))]
        return sorted(e for e in entries if e is not None)

    def _fetch_pointer(self, name: str) -> tuple[bytes, str] | None:
        """Return (CURRENT, its ETag) with a GET conditional on the ETag seen last, or None."""
        cached = self._pointer_cache.get(name)
        condition = {} if cached is None else {"IfNoneMatch": cached[1]}
        try:
            found = self._get(self._key(name, POINTER_FILE), **condition)
        except _Unchanged:
            assert cached is not None
            return cached
        except _Missing:
            self._pointer_cache.pop(name, None)
            return None
        self._pointer_cache[name] = found
        return found

    def _probe(self) -> bool:
        """Tell whether the server refuses a second create and a wrong If-Match (412 each)."""
        key = self._key(_PROBE_DIR, uuid.uuid4().hex)
        self._put(key, b"probe", IfNoneMatch="*")
        try:
            refused = []
            for condition in ({"IfNoneMatch": "*"}, {"IfMatch": _NO_SUCH_ETAG}):
                try:
                    self._put(key, b"probe again", **condition)
                    refused.append(False)
                except _Conflict:
                    refused.append(True)
            return all(refused)
        finally:
            self._call("delete_object", Key=key)

    # -- Requests -----------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts) if self.prefix else parts)

    def _blob(self, name: str, sha256: str) -> str:
        return self._key(name, BLOBS_DIR, sha256)

    def _model_names(self) -> list[str]:
        return [name for name in self._list_dirs(self._key("")) if is_model_dirname(name)]

    def _get(self, key: str, **condition: str) -> tuple[bytes, str]:
        response = self._call("get_object", Key=key, **condition)
        try:
            return response["Body"].read(), response["ETag"]
        except BotoCoreError as exc:
            raise StoreError(f"object storage read failed: {type(exc).__name__}") from exc

    def _put(self, key: str, data: bytes, **condition: str) -> str:
        """Create or replace an object, checked in transit by Content-MD5; return its ETag."""
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode("ascii")
        return self._call("put_object", Key=key, Body=data, ContentMD5=md5, **condition)["ETag"]

    def _list_dirs(self, prefix: str) -> list[str]:
        """Return the names of the 'folders' directly under prefix."""
        return [
            common["Prefix"][len(prefix) :].rstrip("/")
            for page in self._pages(Prefix=prefix, Delimiter="/")
            for common in page.get("CommonPrefixes", ())
        ]

    def _list_keys(self, folder: str) -> list[str]:
        """Return the names of the objects directly under folder/."""
        prefix = folder + "/"
        return [
            item["Key"][len(prefix) :]
            for page in self._pages(Prefix=prefix, Delimiter="/")
            for item in page.get("Contents", ())
        ]

    def _pages(self, **kwargs: str) -> Iterator[dict[str, Any]]:
        token: dict[str, str] = {}
        while True:
            page = self._call("list_objects_v2", **kwargs, **token)
            yield page
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Send one request to the bucket, turning failures into StoreError or the cases above."""
        try:
            return getattr(self._client(), operation)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code", "")
            if status == 304:
                raise _Unchanged from None
            if status == 404 and code != "NoSuchBucket":
                raise _Missing from None
            if status == 412 or code == "ConditionalRequestConflict":
                raise _Conflict from None
            if code == "NotImplemented":
                raise StoreError(REFUSED) from exc
            raise StoreError(f"object storage refused {operation}: {code or status}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"object storage unreachable: {type(exc).__name__}") from exc

    def _client(self) -> Any:
        """Return this process's client; a forked child builds its own connection pool."""
        if self._given_client is not None:
            return self._given_client
        if self._client_pid != os.getpid():
            self._s3, self._client_pid = make_client(), os.getpid()
        return self._s3


def parse_location(location: str) -> tuple[str, str]:
    """Split s3://bucket/prefix into (bucket, prefix without surrounding slashes)."""
    if not location.startswith("s3://"):
        raise InvalidName("an object storage location must look like s3://bucket/prefix")
    bucket, _, prefix = location[len("s3://") :].partition("/")
    if _BUCKET_RE.fullmatch(bucket) is None:
        raise InvalidName("invalid bucket name in the model store location")
    return bucket, prefix.strip("/")


def make_client(environ: Mapping[str, str] = os.environ) -> Any:
    """Build an S3 client from the usual AWS variables (without keys: boto3's usual chain)."""
    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    config = Config(
        # Servers other than AWS are usually reached by path, not by a bucket subdomain.
        s3={"addressing_style": "path" if endpoint else "auto"},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=30,
        # boto3's default streamed CRC trailers break some S3-compatible servers (rclone's
        # 304 answers, for one); integrity comes from Content-MD5 and the stored sha256 instead.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    with _SESSION_LOCK:  # a boto3 session is not thread-safe; one per process saves ~0.2 s a client
        if _SESSION.get(os.getpid()) is None:
            _SESSION.clear()
            _SESSION[os.getpid()] = boto3.session.Session()
        return _SESSION[os.getpid()].client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=region,
            aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=environ.get("AWS_SESSION_TOKEN"),
            config=config,
        )


_SESSION_LOCK = threading.Lock()
_SESSION: dict[int, Any] = {}  # pid -> boto3 session
