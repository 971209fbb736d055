"""Loss curves as inline SVG, computed on the server: the dashboard needs no chart library.

A chart is numbers the template writes into <polyline> and <text> elements (autoescaped, no
style attributes, so the page's Content-Security-Policy holds). The loss axis is logarithmic
when the loss falls by more than a factor of 20, as a network's loss usually does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 10, 26  # margins around the plot, in SVG units
LOG_RATIO = 20.0


@dataclass(frozen=True)
class Line:
    name: str  # "training" or "validation": the CSS class that colours it
    points: str  # "x,y x,y ..." in SVG units


@dataclass(frozen=True)
class Chart:
    lines: list[Line]
    yticks: list[tuple[float, str]]  # (SVG y, label)
    xticks: list[tuple[float, str]]  # (SVG x, label)
    log: bool
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT

    @property
    def empty(self) -> bool:
        return not self.lines


def _finite(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=False) if math.isfinite(y)]
    return [x for x, _ in pairs], [y for _, y in pairs]


def _nice(low: float, high: float, count: int = 4) -> list[float]:
    """Return about `count` round values from low to high."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def loss_chart(series: dict[str, tuple[list[float], list[float]]]) -> Chart:
    """Return the chart of named (epochs, losses) series; series without a point are left out."""
    data = {name: _finite(xs, ys) for name, (xs, ys) in series.items()}
    data = {name: xy for name, xy in data.items() if len(xy[0]) >= 2}  # a line needs two points
    if not data:
        return Chart([], [], [], False)
    ys = [y for _, (_, v) in data.items() for y in v]
    xs = [x for _, (u, _) in data.items() for x in u]
    log = min(ys) > 0 and max(ys) / min(ys) > LOG_RATIO
    scale = math.log10 if log else (lambda v: v)
    y0, y1 = scale(min(ys)), scale(max(ys))
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        return (
            LEFT + (x - x0) / (x1 - x0) * plot_w,
            TOP + (1 - (scale(y) - y0) / (y1 - y0)) * plot_h,
        )

    lines = [
        Line(name, " ".join(f"{px:.1f},{py:.1f}" for px, py in map(at, u, v)))
        for name, (u, v) in data.items()
    ]
    if log:
        values = [10.0**k for k in range(math.ceil(y0), math.floor(y1) + 1)] or [min(ys)]
    else:
        values = _nice(min(ys), max(ys))
    yticks = [(at(x0, v)[1], f"{v:.3g}") for v in values]
    xticks = [(at(x, ys[0])[0], f"{x:g}") for x in _nice(x0, x1) if x0 <= x <= x1]
    return Chart(lines, yticks, xticks, log)


def card_chart(curve) -> Chart:
    """Return the chart of a model card's loss curve (training.curve)."""
    epochs = [1 + i * curve.every for i in range(len(curve.loss))]
    val = [1 + i * curve.every for i in range(len(curve.val_loss))]
    return loss_chart({"training": (epochs, curve.loss), "validation": (val, curve.val_loss)})


def trail_chart(trail: list[tuple[int, float]]) -> Chart:
    """Return the chart of a running job's trail of (epoch, loss)."""
    return loss_chart({"training": ([e for e, _ in trail], [v for _, v in trail])})
