"""Fixtures of the process tests: a redis-server, and gunicorn with a trainer (a `Stack`).

Every process runs on a free 127.0.0.1 port with its data in a temporary directory and is
stopped by its own PID at teardown. The token is tests.support.api.TOKEN (AUTH its header).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.harness import RedisServer
from tests.support.stack import Stack


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, in memory."""
    server = RedisServer(tmp_path / "redis.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_stack(tmp_path) -> Iterator[Callable[..., Stack]]:
    """Start a Stack in this test's directory with extra NNS_* settings; stopped at teardown."""
    started: list[Stack] = []

    def start(**env: str) -> Stack:
        started.append(Stack(tmp_path, **env))
        return started[-1]

    try:
        yield start
    finally:
        for stack in reversed(started):
            stack.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """One Stack per module on a SQLite queue: heartbeats every 0.2 s, a job is stale after
    2 s and never re-queued (a killed trainer's job fails), so faults show within seconds."""
    env = {"NNS_JOB_HEARTBEAT": "0.2", "NNS_JOB_STALE_AFTER": "2", "NNS_JOB_MAX_REQUEUES": "0"}
    stack = Stack(tmp_path_factory.mktemp("sqlite"), **env)
    try:
        yield stack
    finally:
        stack.stop()
