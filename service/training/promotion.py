"""The promotion gate: a new version becomes current only if it beats a trivial guess by more
than the noise of its own out-of-sample numbers, and is not worse than the version it would
replace on the same rows.

Policies: "always" (promote whatever came out), "never" (store only), "auto" (the gate). The
primary metric is the log loss for classification (it judges the probabilities, not only the
winning class) and the RMSE for regression; lower is better for both. The gain over the
baseline is measured fold by fold (cross-validation, or fifths of the holdout rows); it must
exceed NOISE standard errors of that gain, and BASELINE_MARGIN of the baseline's value. A
version judged on its training rows alone (too few rows to hold any out) may be the first
version of a model, never a replacement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # metadata imports Policy from here
    from .metadata import Baseline, Metrics, Scores

    Current = tuple[int, Scores] | None

Policy = Literal["auto", "always", "never"]
BASELINE_MARGIN = 0.02  # must beat the trivial model by 2% of its loss at least
NOISE = 1.0  # ... and by this many standard errors of the gain across folds (docs/benchmarks.md)
TOLERANCE = 0.02  # may be up to 2% worse than the current version: noise between retrains
PRIMARY = {"binary": "log_loss", "multiclass": "log_loss", "regression": "rmse"}
NAMES = {"log_loss": "log loss", "rmse": "RMSE"}


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def fmt(value: float) -> str:
    """Write a metric for people: 0.3466, 17,941."""
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def decide(
    policy: Policy, task: str, metrics: Metrics, baseline: Baseline, current: Current
) -> Decision:
    """Decide on promotion; `current` is (version, its scores on the same rows) or None."""
    if policy == "always":
        return Decision(True, "promote=always")
    if policy == "never":
        return Decision(False, "promote=never: stored, not made current")
    key, rows = PRIMARY[task], _rows(metrics)
    name, new, trivial = NAMES[key], getattr(metrics, key), getattr(baseline, key)
    gain, se = _gain(metrics, baseline, new, trivial)
    needed = max(BASELINE_MARGIN * trivial, NOISE * se)
    if not gain > needed:
        return Decision(
            False,
            f"not promoted: {rows} {name} {fmt(new)} does not beat the {baseline.kind} "
            f"baseline's {fmt(trivial)} by more than {fmt(needed)} "
            f"({BASELINE_MARGIN:.0%} of it, or {NOISE:g} standard error of the gain across "
            "folds, whichever is larger)",
        )
    beats = f"{rows} {name} {fmt(new)} beats the {baseline.kind} baseline's {fmt(trivial)}"
    if current is None:
        if metrics.evaluated_on == "training":
            beats += " (on the training rows: too few rows to hold any out)"
        return Decision(True, f"promoted: {beats}")
    version, theirs = current
    if metrics.evaluated_on == "training":
        return Decision(
            False,
            f"not promoted: {beats}, but only on its training rows (too few rows to hold any "
            f"out), which cannot show it is better than current version {version}",
        )
    old = getattr(theirs, key)
    if new > old * (1 + TOLERANCE):
        return Decision(
            False,
            f"not promoted: {rows} {name} {fmt(new)} is worse than current version "
            f"{version}'s {fmt(old)} on the same rows (tolerance {TOLERANCE:.0%})",
        )
    return Decision(
        True, f"promoted: {beats} and is no worse than current version {version}'s {fmt(old)}"
    )


def _rows(metrics: Metrics) -> str:
    """Name the rows the numbers come from, for people."""
    if metrics.evaluated_on == "cross_validation":
        return f"{metrics.folds}-fold cross-validated"
    return {"holdout": "held-out", "validation": "validation"}.get(
        metrics.evaluated_on, metrics.evaluated_on
    )


def _gain(metrics: Metrics, baseline: Baseline, new: float, trivial: float) -> tuple[float, float]:
    """Return the gain over the baseline (positive: better) and its standard error."""
    if metrics.fold_scores and baseline.fold_scores and len(metrics.fold_scores) > 1:
        gains = [b - m for m, b in zip(metrics.fold_scores, baseline.fold_scores, strict=True)]
        mean = sum(gains) / len(gains)
        var = sum((g - mean) ** 2 for g in gains) / (len(gains) - 1)
        return trivial - new, (var / len(gains)) ** 0.5
    return trivial - new, 0.0
