"""Validation of model names and versions before they are ever turned into paths."""

from __future__ import annotations

import operator
import re

from .errors import InvalidName

# re.ASCII keeps \w-style classes out and fullmatch avoids "$" accepting a trailing newline.
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}", re.ASCII)
_VERSION_RE = re.compile(r"[1-9][0-9]{0,8}", re.ASCII)

MAX_VERSION = 999_999_999


def validate_name(name: object) -> str:
    """Return name unchanged if it is a valid model name, else raise InvalidName."""
    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        raise InvalidName(
            "invalid model name: must match ^[a-z0-9][a-z0-9_-]{0,63}$ "
            "(lowercase letters, digits, '_' and '-', at most 64 characters)"
        )
    return name


def validate_version(version: object) -> int:
    """Return version as an int if it is a positive integer in range, else raise InvalidName."""
    # bool is an int subclass, but True meaning "version 1" is a caller bug; numpy ints are fine.
    try:
        if isinstance(version, bool):
            raise TypeError
        version = operator.index(version)
    except TypeError:
        raise InvalidName(
            "invalid version: must be an integer (use parse_version for strings)"
        ) from None
    if not 1 <= version <= MAX_VERSION:
        raise InvalidName(f"invalid version: must be between 1 and {MAX_VERSION}")
    return int(version)


def parse_version(text: object) -> int:
    """Parse a version string such as one taken from a URL, accepting only ^[1-9][0-9]{0,8}$."""
    if not isinstance(text, str) or _VERSION_RE.fullmatch(text) is None:
        raise InvalidName("invalid version: must be a positive integer without leading zeros")
    return int(text)


def is_version_dirname(entry: str) -> bool:
    """Tell whether a directory entry name is a published version directory."""
    return _VERSION_RE.fullmatch(entry) is not None


def is_model_dirname(entry: str) -> bool:
    """Tell whether a directory entry name could hold a model."""
    return _NAME_RE.fullmatch(entry) is not None
