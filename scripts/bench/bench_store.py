#!/usr/bin/env python
"""Print publish, load and poll latency and requests per operation, filesystem vs moto S3.

Run: .venv/bin/python scripts/bench/bench_store.py [--repeats 30]
Starts moto's server (a process on 127.0.0.1), uses a temporary directory, prints a table.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root
from model_store import ModelStore, Store  # noqa: E402
from model_store.s3 import S3Store, make_client  # noqa: E402
from tests.support.s3_servers import start_moto  # noqa: E402

# model name -> (what it is, weight shapes)
MODELS = {
    "small": ("3-4-1 MLP, 2 KiB", [(3, 4), (4,), (4, 1), (1,)]),
    "large": ("1 MiB of float64", [(256, 512), (512,)]),
}


def arrays_of(shapes: list[tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"a{i}": rng.normal(size=shape) for i, shape in enumerate(shapes)}


def median_ms(run: Callable[[int], Any], repeats: int) -> float:
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def requests_of(seen: collections.Counter, run: Callable[[], Any]) -> str:
    seen.clear()
    run()
    return ", ".join(f"{n} {op}" for (op, status), n in sorted(seen.items()))


def bench_model(
    stores: dict[str, Store],
    seen: collections.Counter,
    name: str,
    label: str,
    shapes: list[tuple[int, ...]],
    repeats: int,
) -> None:
    """Print the publish and load rows of one model size."""
    ms: dict[tuple[str, str], float] = {}
    for kind, store in stores.items():
        store.publish(name, arrays_of(shapes, 0), {})  # S3: the probe runs on the first write
        ms["publish", kind] = median_ms(
            lambda i, s=store: s.publish(name, arrays_of(shapes, i), {}), repeats
        )
        ms["load", kind] = median_ms(lambda _, s=store: s.load(name), repeats)
    s3 = stores["S3 (moto)"]
    requests = {
        "publish": requests_of(seen, lambda: s3.publish(name, arrays_of(shapes, 1), {})),
        "load": requests_of(seen, lambda: s3.load(name)),
    }
    for operation in ("publish", "load"):
        print(
            f"| {operation} | {name}: {label} | {ms[operation, 'filesystem']:.2f} "
            f"| {ms[operation, 'S3 (moto)']:.2f} | {requests[operation]} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_moto(Path(tmp))
        try:
            env = server.env(Path(tmp))
            client = make_client(env)
            seen: collections.Counter = collections.Counter()

            def count(event_name: str, **_: Any) -> None:
                seen[(event_name.rsplit(".", 1)[-1], "")] += 1

            client.meta.events.register("before-send.s3", count)
            stores: dict[str, Store] = {
                "filesystem": ModelStore(Path(tmp) / "store"),
                "S3 (moto)": S3Store(f"s3://{server.new_bucket(client)}/models", client=client),
            }
            print("| operation | model | filesystem ms | S3 (moto) ms | S3 requests |")
            print("|---|---|--:|--:|---|")
            for name, (label, shapes) in MODELS.items():
                bench_model(stores, seen, name, label, shapes, args.repeats)
            poll = {
                kind: median_ms(lambda _, s=s: s.pointers(), args.repeats)
                for kind, s in stores.items()
            }
            s3 = stores["S3 (moto)"]
            print(
                f"| poll (pointers), unchanged | {len(s3.list_models())} models "
                f"| {poll['filesystem']:.2f} | {poll['S3 (moto)']:.2f} "
                f"| {requests_of(seen, s3.pointers)} |"
            )
            bucket, key = s3.bucket, f"{s3.prefix}/small.CURRENT"
            floor = median_ms(lambda _: client.get_object(Bucket=bucket, Key=key), args.repeats)
            print(f"| one plain GetObject (the server's floor) | | | {floor:.2f} | 1 GetObject |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
