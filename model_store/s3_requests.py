"""One bucket's requests: a client per process, failures mapped to errors, paging, checksums.

The S3 store (s3.py) decides what to read and write; this module only sends the requests.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import InvalidName, StoreError

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)

REFUSED = (
    "the object storage server does not enforce conditional writes (If-None-Match: * and "
    "If-Match on PutObject), so two publishers could take the same version: publishing and "
    "promotion are refused on this store (reading still works); use a server that enforces "
    "them, such as AWS S3"
)


class Missing(Exception):
    """The object does not exist (404)."""


class Unchanged(Exception):
    """The object still has the ETag given in If-None-Match (304)."""


class Conflict(Exception):
    """A condition failed (412), or a concurrent conditional write is in progress (409)."""


class Listing(NamedTuple):
    """What one level of a LIST with Delimiter="/" holds under a folder."""

    folders: list[str]  # the names of the 'folders' directly under it
    objects: dict[str, str]  # the names of the objects directly under it -> their ETags


class Bucket:
    """Send requests to one bucket; keys are given relative to the store's prefix."""

    def __init__(self, name: str, prefix: str, client: Any = None) -> None:
        self.name, self.prefix = name, prefix
        self._given_client = client
        self._client_pid = -1
        self._s3: Any = None

    def key(self, *parts: str) -> str:
        """Return the full key of a path under the prefix ("" alone: the prefix's folder)."""
        return "/".join((self.prefix, *parts) if self.prefix else parts)

    def get(self, key: str, **condition: str) -> tuple[bytes, str]:
        """Return an object's content and ETag; raise Missing, or Unchanged on If-None-Match."""
        response = self.call("get_object", Key=key, **condition)
        try:
            return response["Body"].read(), response["ETag"]
        except BotoCoreError as exc:
            raise StoreError(f"object storage read failed: {type(exc).__name__}") from exc

    def put(self, key: str, data: bytes, **condition: str) -> str:
        """Create or replace an object, checked in transit by Content-MD5; return its ETag."""
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode("ascii")
        return self.call("put_object", Key=key, Body=data, ContentMD5=md5, **condition)["ETag"]

    def list(self, folder: str) -> Listing:
        """Return the folders and objects directly under a folder key ("" for the bucket)."""
        prefix = folder + "/" if folder else ""
        listing = Listing([], {})
        for page in self._pages(Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", ()):
                listing.folders.append(common["Prefix"][len(prefix) :].rstrip("/"))
            for item in page.get("Contents", ()):
                listing.objects[item["Key"][len(prefix) :]] = item["ETag"]
        return listing

    def has_any(self, folder: str) -> bool:
        """Tell whether anything is stored under a folder key (one LIST of at most one key)."""
        page = self.call("list_objects_v2", Prefix=folder + "/", MaxKeys=1)
        return page.get("KeyCount", 0) > 0

    def _pages(self, **kwargs: str) -> Iterator[dict[str, Any]]:
        token: dict[str, str] = {}
        while True:
            page = self.call("list_objects_v2", **kwargs, **token)
            yield page
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Send one request, turning failures into StoreError or the cases above."""
        try:
            return getattr(self._client(), operation)(Bucket=self.name, **kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code", "")
            if status == 304:
                raise Unchanged from None
            if status == 404 and code != "NoSuchBucket":
                raise Missing from None
            if status == 412 or code == "ConditionalRequestConflict":
                raise Conflict from None
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
            core = botocore.session.get_session()
            # Timestamps stay text: the store reads none, and parsing the LastModified of every
            # key was 60% of the CPU a LIST of 1,000 models costs this process.
            core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
            _SESSION[os.getpid()] = boto3.session.Session(botocore_session=core)
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
