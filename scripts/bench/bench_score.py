"""Score a large CSV over HTTP: time, and the gunicorn worker's resident memory before and at
its peak while it streams the file.

A model is trained on 2,000 rows of a 10-column table (six numbers, two text columns, a date,
a 0/1 target); files of --rows rows of the same columns are written once and POSTed to
/models/bench/predict with Content-Type and Accept text/csv, from disk, against one sync
gunicorn worker. /proc/<worker>/status is read every 5 ms; "before" is the worker's VmRSS after
a warm-up request of 1,000 rows, "peak" the largest seen while the file was scored, each in
MiB. BLAS is pinned to one thread.

    python scripts/bench/bench_score.py --rows 100000 1000000
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from http.client import HTTPConnection  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.harness import Gunicorn, rss_kib, train_cli  # noqa: E402

COLOURS, SIZES = ["red", "green", "blue"], ["S", "M", "L", "XL"]
HEADER = "a,b,c,d,e,f,colour,size,day,y\n"


def write(path: Path, rows: int, seed: int = 0, block: int = 100_000) -> Path:
    """Write `rows` rows of the benchmark table to `path` (in blocks: any size in little memory)."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write(HEADER)
        for start in range(0, rows, block):
            n = min(block, rows - start)
            x = rng.normal(size=(n, 6))
            y = (x[:, 0] + x[:, 1] > 0).astype(int)
            for i in range(n):
                a, b, c, d, e, g = x[i]
                k = start + i
                f.write(f"{a:.4f},{b:.4f},{c:.3f},{d:.2f},{e:.3f},{g:.1f},{COLOURS[k % 3]},"
                        f"{SIZES[k % 4]},2024-0{1 + k % 9}-1{k % 9},{y[i]}\n")  # fmt: skip
    return path


def post(url: str, path: Path) -> tuple[int, int, float]:
    """POST the file from disk; return (status, answer bytes, seconds)."""
    host, port = url.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=600)
    started = time.perf_counter()
    with open(path, "rb") as body:
        headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
        headers["Content-Length"] = str(path.stat().st_size)
        conn.request("POST", "/models/bench/predict", body=body, headers=headers)
        resp = conn.getresponse()
        size = len(resp.read())
    conn.close()
    return resp.status, size, time.perf_counter() - started


def peak_while(pid: int, action):
    """Run action() while sampling the process's VmRSS; return (its result, peak KiB)."""
    peak, done = [rss_kib(pid) or 0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid) or 0)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = action()
    finally:
        done.set()
        sampler.join()
    return result, peak[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        train = write(data / "train.csv", 2_000)
        train_cli(data / "models", "--data", str(train), "--target", "y", "--model", "bench",
                  "--epochs", "20")  # fmt: skip
        big = 1 << 30  # the limit is not what is measured here
        api = Gunicorn(data, data / "gunicorn.log", workers=1, NNS_MAX_SCORE_BYTES=str(big),
                       NNS_TIMEOUT="600", NNS_DEFAULT_MODEL="bench")  # fmt: skip
        try:
            api.wait_ready()
            worker = api.worker_pids()[0]
            post(api.url, write(data / "warm.csv", 1_000, seed=1))
            print("| rows | file MiB | answer MiB | seconds | rows/s | worker RSS before | peak |")
            print("|---|---|---|---|---|---|---|")
            for rows in args.rows:
                path = write(data / f"score-{rows}.csv", rows, seed=2)
                before = rss_kib(worker) or 0
                (status, size, seconds), peak = peak_while(worker, lambda p=path: post(api.url, p))
                assert status == 200, status
                mib = 1 << 20
                print(f"| {rows:,} | {path.stat().st_size / mib:.1f} | {size / mib:.1f} | "
                      f"{seconds:.2f} | {rows / seconds:,.0f} | {before / 1024:.0f} MiB | "
                      f"{peak / 1024:.0f} MiB |")  # fmt: skip
        finally:
            api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
