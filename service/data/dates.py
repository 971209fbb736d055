"""ISO-8601 dates and datetimes as the network reads them: days since 1970-01-01 (UTC).

Accepted text, in training files and in requests alike: 2024-03-31, 2024-03-31T14:05,
2024-03-31 14:05:09.250, with an optional Z or +02:00 offset (a time without an offset is
taken as UTC). A date column is held as datetime64[s] (NaT where missing) until it is encoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np

# Strict on purpose: "20240331", "2024-W13" or "31/03/2024" are not read as dates.
PATTERN = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?$"
_ISO = re.compile(PATTERN)
FORMAT = "YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM"
SECONDS_PER_DAY = 86400.0


def days_of(text: str) -> float | None:
    """Return the days since 1970-01-01 UTC of one ISO date or datetime, None if it is not one."""
    if not _ISO.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:  # e.g. 2024-02-30
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() / SECONDS_PER_DAY


def parse(texts: Iterable[str]) -> np.ndarray | None:
    """Return datetime64[s] of texts that are all ISO dates or datetimes, else None."""
    seconds = []
    for text in texts:
        days = days_of(text)
        if days is None:
            return None
        seconds.append(round(days * SECONDS_PER_DAY))
    return np.array(seconds, dtype="datetime64[s]")


def days(column: np.ndarray) -> np.ndarray:
    """Return float64 days since 1970-01-01 of a datetime64 column, NaN where NaT."""
    seconds = column.astype("datetime64[s]")
    out = seconds.astype(np.int64).astype(np.float64) / SECONDS_PER_DAY
    out[np.isnat(seconds)] = np.nan
    return out


def text_of(days_since_epoch: float) -> str:
    """Return the ISO text of a number of days: a date when whole, a datetime otherwise."""
    moment = np.datetime64(round(days_since_epoch * SECONDS_PER_DAY), "s")
    whole = float(days_since_epoch).is_integer()
    return str(moment.astype("datetime64[D]")) if whole else str(moment)
