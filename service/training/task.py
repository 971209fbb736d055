"""The task, worked out from the target, and the target encoded for the network.

Two distinct values of any type: binary. A few distinct whole numbers or words: multiclass.
Numbers with many distinct values: regression, trained on the standardised target and answered
in its original units. `--task` overrides; `--loss` may be given and must agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.categorical import Categorical
from ..data.dataset import DatasetError, is_numeric
from ..data.features import Label
from .metadata import TASK_FOR_LOSS, Task

LOSS_FOR_TASK = {task: loss for loss, task in TASK_FOR_LOSS.items()}
MAX_AUTO_CLASSES = 20  # whole numbers with more distinct values than this are a quantity
MAX_CLASSES = 100  # more classes than this is not a classification this service does well


@dataclass(frozen=True)
class Target:
    """The encoded target: y for the loss, and what turns outputs back into answers."""

    task: Task
    loss: str
    y: np.ndarray  # bce: 0/1; cce: class index; mse: standardised value
    classes: list[Label] | None  # in output order; binary: [negative, positive]
    mean: float = 0.0  # regression: y_original = y * scale + mean
    scale: float = 1.0


def _label(value) -> Label:
    """Return a class label as JSON shows it: 1 rather than 1.0, text and booleans as they are."""
    if isinstance(value, float | np.floating):
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    return value.item() if isinstance(value, np.generic) else value


def infer_task(y: np.ndarray, name: str) -> Task:
    """Return the task a target's values call for."""
    distinct = np.unique(y) if is_numeric(y) else sorted(_distinct(y), key=str)
    k = len(distinct)
    if k < 2:
        raise DatasetError(f"target {name!r} has only one value; need at least two")
    if k == 2:
        return "binary"
    if not is_numeric(y):
        if k > MAX_CLASSES:
            raise DatasetError(
                f"target {name!r} has {k} distinct text values: too many classes "
                f"(at most {MAX_CLASSES})"
            )
        return "multiclass"
    whole = bool(np.all(np.asarray(distinct) == np.round(distinct)))
    return "multiclass" if whole and k <= MAX_AUTO_CLASSES else "regression"


def resolve_task(y: np.ndarray, name: str, task: str, loss: str | None) -> tuple[Task, str]:
    """Return (task, loss) from the target, the requested task ("auto") and an explicit loss."""
    if task == "auto":
        chosen: Task = TASK_FOR_LOSS[loss] if loss else infer_task(y, name)
    else:
        chosen = task  # type: ignore[assignment]
        if loss and TASK_FOR_LOSS[loss] != chosen:
            raise DatasetError(
                f"loss {loss!r} is for {TASK_FOR_LOSS[loss]} targets but the task is {chosen}; "
                f"use loss {LOSS_FOR_TASK[chosen]!r} or leave it out"
            )
    return chosen, loss or LOSS_FOR_TASK[chosen]


def encode_target(y: np.ndarray, name: str, task: str = "auto", loss: str | None = None) -> Target:
    """Encode the target for the chosen task; DatasetError says why the target does not fit."""
    task, loss = resolve_task(y, name, task, loss)
    if task == "regression":
        if not is_numeric(y):
            raise DatasetError(f"target {name!r} holds text: it cannot be a regression target")
        mean, scale = float(y.mean()), float(y.std())
        scale = scale if scale > 0 else 1.0
        return Target(task, loss, (y - mean) / scale, None, mean, scale)
    values = np.unique(y) if is_numeric(y) else sorted(_distinct(y), key=_sort_key)
    classes = [_label(v) for v in values]
    if len(classes) < 2:
        raise DatasetError(f"target {name!r} has only one class; need at least two")
    if task == "binary" and len(classes) != 2:
        raise DatasetError(
            f"target {name!r} has {len(classes)} classes; a binary task needs exactly two "
            "(use the multiclass task)"
        )
    if len(classes) > MAX_CLASSES:
        raise DatasetError(f"target {name!r} has {len(classes)} classes (at most {MAX_CLASSES})")
    index = {_sort_key(v): i for i, v in enumerate(values)}
    if isinstance(y, Categorical):  # one lookup per category, then per row by its code
        table = np.array([index.get(_sort_key(v), -1) for v in y.categories], dtype=np.int64)
        encoded = table[y.codes]
    else:
        encoded = np.fromiter((index[_sort_key(v)] for v in y.tolist()), np.int64, count=len(y))
    return Target(task, loss, encoded.astype(np.float64) if task == "binary" else encoded, classes)


def _distinct(y) -> set:
    """Return the distinct values of a text target (a target has no missing value)."""
    if isinstance(y, Categorical):
        used = np.unique(y.codes)
        return {y.categories[c] for c in used if c >= 0}
    return set(y.tolist())


def _sort_key(value) -> tuple:
    """Order labels: numbers by value, then text, then booleans (False before True)."""
    if isinstance(value, bool | np.bool_):
        return (2, bool(value), "")
    if isinstance(value, str):
        return (1, 0, value)
    return (0, float(value), "")
