"""Prometheus metrics, aggregated across gunicorn workers in multiprocess mode.

Multiprocess mode is on when PROMETHEUS_MULTIPROC_DIR is set before this module is imported
(the gunicorn config does that); otherwise the process-local registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client import Counter as _Counter
from prometheus_client import Histogram as _Histogram
from prometheus_client import multiprocess as _mp

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_MAX_CACHED = 10_000  # label sets remembered per metric; beyond that labels() does the work


class _CachedLabels:
    """Return labels() children from a dict keyed by the raw values (labels() costs ~3 us)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._children: dict[tuple, object] = {}

    def labels(self, *values, **kwargs):
        child = None if kwargs else self._children.get(values)
        if child is None:
            child = super().labels(*values, **kwargs)
            if not kwargs and len(self._children) < _MAX_CACHED:
                self._children[values] = child
        return child


class Counter(_CachedLabels, _Counter):
    pass


class Histogram(_CachedLabels, _Histogram):
    pass


REQUESTS = Counter(
    "nns_http_requests_total",
    "HTTP requests by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "nns_http_request_duration_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PREDICTIONS = Counter(
    "nns_predictions_total", "Rows predicted, by model and version.", ["model", "version"]
)
LOAD_FAILURES = Counter(
    "nns_model_load_failures_total", "Model versions that failed to load.", ["model"]
)
# Training jobs are counted in the job queue's store (see routes/train.py), which every API
# worker and trainer shares, and reach each scrape through a collector added below.
_COLLECTORS: list = []


def add_collector(collector) -> None:
    """Include `collector` (an object with collect()) in every scrape."""
    if collector not in _COLLECTORS:
        _COLLECTORS.append(collector)


def render() -> tuple[bytes, str]:
    """Return the exposition text of every metric, summed over all worker processes."""
    shared = CollectorRegistry(auto_describe=False)
    for collector in _COLLECTORS:
        shared.register(collector)
    if MULTIPROCESS:
        registry = CollectorRegistry()
        _mp.MultiProcessCollector(registry)
        return generate_latest(registry) + generate_latest(shared), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY) + generate_latest(shared), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (called from gunicorn's child_exit hook)."""
    if MULTIPROCESS:
        _mp.mark_process_dead(pid)
