"""A client of a running API: the admin token, a row to predict, submitting a job and waiting
for its end, which versions the workers serve, and predictions sent on a thread under load."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException

from tests.support.harness import Gunicorn, http, wait_until

# The one admin token of the tests: the in-process app's and every process the tests start.
TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ONE = {"smoking": 0, "obesity": 1, "exercise": 0}  # one diabetes row to predict


def submit(api: Gunicorn, body) -> str:
    """POST a training job; assert it was accepted and return its location."""
    status, headers, answer = http("POST", api.url + "/train", body, AUTH)
    assert status == 202, answer
    assert headers["Location"] == f"/train/jobs/{answer['job_id']}"
    return headers["Location"]


def finished(api: Gunicorn, location: str, timeout: float = 60) -> dict:
    """Wait until the job at `location` has ended and return its record."""

    def done():
        status, _, job = http("GET", api.url + location)
        assert status == 200, job
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None

    return wait_until(done, timeout, interval=0.05, what=f"job {location} to finish")


def versions_served(api: Gunicorn, n: int = 40, path: str = "/predict", row=ONE) -> set:
    """Send `n` predictions, 8 at a time (sync workers take one each, so both serve some).

    Return the versions that answered, and "HTTP <status>" for any failure.
    """
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: http("POST", api.url + path, row), range(n)))
    return {body["version"] if status == 200 else f"HTTP {status}" for status, _, body in answers}


def serve_within(api: Gunicorn, version: int, seconds: float = 2.0) -> float:
    """Return how long until every worker serves `version`; fail after `seconds`."""
    started = time.monotonic()
    wait_until(lambda: versions_served(api) == {version}, seconds, what=f"version {version}")
    return time.monotonic() - started


class Predicting:
    """Clients sending predictions on `threads` threads until stopped; keeps every answer
    (status 0: no answer, the connection refused, reset or cut short)."""

    def __init__(self, api: Gunicorn, path: str = "/predict", row=ONE, threads: int = 1) -> None:
        self.answers: list[tuple[int, dict]] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(api.url + path, row)) for _ in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, url: str, row) -> None:
        while not self._stop.is_set():
            try:
                status, _, body = http("POST", url, row, timeout=10)
            except (OSError, HTTPException) as exc:
                status, body = 0, {"error": str(exc)}
            self.answers.append((status, body))

    def stop(self) -> list[tuple[int, dict]]:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)
        return self.answers
