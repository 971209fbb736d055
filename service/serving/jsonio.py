"""Fast JSON encoding with orjson (Flask's json module costs far more per request)."""

from __future__ import annotations

import orjson

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(obj) -> bytes:
    """Serialise `obj`, NumPy arrays and scalars included."""
    try:
        # OPT_NON_STR_KEYS checks every key's type (+20% on a 1000-prediction body); only
        # dicts with non-str keys need it, and they fail here first.
        return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        return orjson.dumps(obj, option=_OPTIONS)
