"""The in-memory form of one published model version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


# eq=False: comparing numpy arrays with == is elementwise, so a generated __eq__ would mislead.
@dataclass(frozen=True, eq=False)
class Artifact:
    """Hold one verified model version: its arrays and its parsed model.json."""

    model: str
    version: int
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
