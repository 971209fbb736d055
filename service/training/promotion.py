"""The promotion gate: a new version becomes current only if it is better than a trivial guess
and not worse than the version it would replace, measured on the same held-out rows.

Policies: "always" (promote whatever came out), "never" (store only), "auto" (the gate). The
primary metric is the log loss for classification (it judges the probabilities, not only the
winning class) and the RMSE for regression; lower is better for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # metadata imports Policy from here
    from .metadata import Baseline, Metrics, Scores

    Current = tuple[int, Scores] | None

Policy = Literal["auto", "always", "never"]
BASELINE_MARGIN = 0.02  # must beat the trivial model by 2% of its loss: not by noise
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
    """Decide on promotion; `current` is (version, its scores on the same rows) or None.

    `metrics.evaluated_on` says which rows the numbers come from ("validation" or "training").
    """
    if policy == "always":
        return Decision(True, "promote=always")
    if policy == "never":
        return Decision(False, "promote=never: stored, not made current")
    key, rows = PRIMARY[task], metrics.evaluated_on
    name, new, trivial = NAMES[key], getattr(metrics, key), getattr(baseline, key)
    if not new <= trivial * (1 - BASELINE_MARGIN):
        return Decision(
            False,
            f"not promoted: {rows} {name} {fmt(new)} does not beat the {baseline.kind} "
            f"baseline's {fmt(trivial)} by {BASELINE_MARGIN:.0%}",
        )
    if current is not None:
        version, theirs = current
        old = getattr(theirs, key)
        if new > old * (1 + TOLERANCE):
            return Decision(
                False,
                f"not promoted: {rows} {name} {fmt(new)} is worse than current version "
                f"{version}'s {fmt(old)} on the same rows (tolerance {TOLERANCE:.0%})",
            )
        return Decision(
            True,
            f"promoted: {rows} {name} {fmt(new)} beats the {baseline.kind} baseline's "
            f"{fmt(trivial)} and is no worse than current version {version}'s {fmt(old)}",
        )
    return Decision(
        True,
        f"promoted: {rows} {name} {fmt(new)} beats the {baseline.kind} baseline's {fmt(trivial)}",
    )
