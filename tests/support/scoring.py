"""Score a dataset's rows with a loaded model as the service scores them, for the benchmarks."""

from __future__ import annotations

import numpy as np

from service.data.dataset import Dataset
from service.data.features import FeatureError
from service.serving.predictor import Predictor


def served_outputs(model: Predictor, data: Dataset) -> tuple[np.ndarray, np.ndarray, list]:
    """Return (accepted, outputs, unknowns) for the rows of `data`.

    A row the feature rule refuses (a value missing where training had none, a number out of
    its kind) is not accepted: `accepted` marks the others, and `outputs` has one row per
    accepted row, with a category training never saw scored at the training average, as
    /predict scores it; `unknowns` lists those cells.
    """
    columns = [data.columns[data.features.index(n)] for n in model.feature_set.names]
    accepted = np.ones(data.rows, dtype=bool)
    try:
        model.feature_set.encode_lenient(columns)
    except FeatureError as exc:
        for problem in exc.problems:
            accepted[problem.rows] = False
    X, unknowns = model.feature_set.encode_lenient([c[accepted] for c in columns])
    return accepted, model.forward(model.at_average(X, unknowns)), unknowns
