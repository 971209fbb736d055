"""Real S3-compatible servers for tests: moto's server and rclone's, each a process on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

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

    def stop(self) -> None:
        self.proc.stop(timeout=10)


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
