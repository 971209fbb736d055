"""Real S3-compatible servers for tests: moto's server and rclone's, each a process on 127.0.0.1."""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shutil
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests.support.harness import Proc, free_port, wait_until

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"


class S3Server:
    """An S3-compatible server process; stopped by its own PID."""

    def __init__(self, argv: list[str], port: int, log: Path, cwd: Path) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.proc = Proc(argv, env, log, cwd=cwd)
        wait_until(self._answers, 60, what=f"{self.endpoint} to answer")

    def _answers(self) -> bool:
        if not self.proc.alive():
            raise RuntimeError(f"S3 server exited:\n{self.proc.output()[-2000:]}")
        try:
            urllib.request.urlopen(self.endpoint, timeout=2).close()
        except urllib.error.HTTPError:
            pass  # any HTTP answer (403 without credentials, say) means it is listening
        except OSError:
            return False
        return True

    def env(self, tmp: Path) -> dict[str, str]:
        """Return the AWS variables that point a client at this server, and nothing else."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            # Keep the developer's own AWS configuration out of the tests.
            "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        }

    def client(self, tmp: Path) -> Any:
        """Return a plain boto3 client for arranging and inspecting buckets in tests."""
        from model_store.s3 import make_client

        return make_client(self.env(tmp))

    def new_bucket(self, client: Any) -> str:
        """Create an empty bucket with a fresh name and return the name."""
        bucket = f"test-{uuid.uuid4().hex[:24]}"
        client.create_bucket(Bucket=bucket)
        return bucket

    def mark(self, client: Any, bucket: str) -> int:
        """Send a request of its own to the bucket; return the log's offset just past its line.

        Request lines are logged after the answer is sent: the ones of requests answered
        before this call are in the log before the offset returned.
        """
        token = f"mark-{uuid.uuid4().hex}"
        with contextlib.suppress(ClientError):  # 404: it is only a marker
            client.head_object(Bucket=bucket, Key=token)

        def logged() -> bytes | None:
            text = self.proc.log_path.read_bytes()
            return text if token.encode() in text else None

        text = wait_until(logged, 10, what="the server to log the marker")
        return text.index(b"\n", text.index(token.encode())) + 1

    def requests(self, bucket: str, start: int, end: int) -> list[str]:
        """Return the request lines logged for a bucket between two offsets, markers left out.

        Each looks like "GET /bucket?list-type=2&prefix=models/&delimiter=/ HTTP/1.1" (moto's
        server logs one line per request, werkzeug style).
        """
        text = self.proc.log_path.read_bytes()[start:end].decode(errors="replace")
        text = re.sub("\x1b\\[[0-9;]*m", "", text)  # werkzeug colours some lines
        lines = [line.split('"')[1] for line in text.splitlines() if line.count('"') >= 2]
        return [r for r in lines if f" /{bucket}" in r and "/mark-" not in r]

    def stop(self) -> None:
        self.proc.stop(timeout=10)


class Relay:
    """A TCP relay on 127.0.0.1 in front of a server, to cut it off or slow it down in tests.

    `down()` refuses new connections and drops open ones (the server is unreachable), `up()`
    serves again; `delay` holds every chunk of the server's answers that long (a slow store).
    """

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self._target = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.delay = 0.0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._serving = True
        threading.Thread(target=self._accept, daemon=True).start()

    def down(self) -> None:
        with self._lock:
            self._serving = False
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def up(self) -> None:
        with self._lock:
            self._serving = True

    def close(self) -> None:
        self.down()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self._serving:
                    client.close()
                    continue
                server = socket.create_connection(self._target)
                self._open |= {client, server}
            threading.Thread(target=self._pipe, args=(client, server, 0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, 1), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, answers: int) -> None:
        try:
            while chunk := source.recv(65536):
                if answers and self.delay:
                    time.sleep(self.delay)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):  # the other direction's recv() returns too
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
                with self._lock:
                    self._open.discard(sock)


def counting_client(env: dict) -> tuple[Any, collections.Counter]:
    """Return a client and a Counter of (operation, HTTP status) it fills as requests return."""
    from model_store.s3 import make_client

    client = make_client(env)
    seen: collections.Counter = collections.Counter()

    def count(event_name: str, response_dict: dict | None, **_: Any) -> None:
        status = response_dict["status_code"] if response_dict else None
        seen[(event_name.rsplit(".", 1)[-1], status)] += 1

    client.meta.events.register("response-received.s3", count)
    return client, seen


def start_moto(log_dir: Path) -> S3Server:
    """Start moto's S3 server (`python -m moto.server`) on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return S3Server(argv, port, log_dir / "moto.log", log_dir)


def start_rclone(served_dir: Path, log_dir: Path) -> S3Server:
    """Start `rclone serve s3` over served_dir (each subdirectory is a bucket) on a free port."""
    rclone = shutil.which("rclone", path=os.path.dirname(sys.executable)) or "rclone"
    port = free_port()
    argv = [
        rclone,
        "serve",
        "s3",
        "--addr",
        f"127.0.0.1:{port}",
        "--auth-key",
        f"{ACCESS_KEY},{SECRET_KEY}",
        "--config",
        str(log_dir / "rclone.conf"),
        str(served_dir),
    ]
    return S3Server(argv, port, log_dir / "rclone.log", log_dir)
