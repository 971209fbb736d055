#!/usr/bin/env python3
"""Hold slowloris-style connections open against the API and time a well-behaved client meanwhile.

    python3 scripts/slow_clients.py http://127.0.0.1:8000 [--slow 64] [--hold 10] [--json]

The slow connections come in three kinds, in turn: request headers sent one byte every `--drip`
seconds; complete headers, then the body one byte every `--drip` seconds; and a complete batch
prediction whose large response is never read (a 4 KiB receive buffer). A slow connection the
server closes is opened again, as an attacker would. While they are held, one client posts
POST /predict every `--interval` seconds on a new connection and counts the answers that come
within `--deadline`; once they are closed, it sends `--after` more and counts any error.

Standard library only: it runs from the host against `docker compose up` as well as from the
tests (tests/deploy/test_nginx.py), which read its --json line. Exit status 0 when at least
`--want` of the answers came in time and none failed after, else 1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

ROW = {"smoking": 0, "obesity": 1, "exercise": 0}  # the default model's features
KINDS = ("headers", "body", "reader")


class SlowConnection:
    """One connection that sends a request slowly (or never reads its answer)."""

    def __init__(self, host: str, port: int, kind: str, batch: bytes) -> None:
        self.host, self.port, self.kind, self.batch = host, port, kind, batch
        self.sock: socket.socket | None = None
        self.pending = b""  # bytes still to drip

    def open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.kind == "reader":  # set before connecting: the window the server may fill
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect((self.host, self.port))
        head = f"POST /predict HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
        if self.kind == "headers":  # headers that never end
            sock.sendall(head.encode())
            self.pending = b"X-Padding: " + b"a" * 100_000
        elif self.kind == "body":  # a body that never ends
            sock.sendall(f"{head}Content-Length: 100000\r\n\r\n{{".encode())
            self.pending = b" " * 100_000
        else:  # a whole request for a large answer, which is never read
            sock.sendall(f"{head}Content-Length: {len(self.batch)}\r\n\r\n".encode() + self.batch)
        self.sock = sock

    def drip(self) -> bool:
        """Send the next byte (or nothing for a reader); return False if the server closed it."""
        if self.sock is None:
            return False
        try:
            if self.kind == "reader":
                # Never read: only see whether the server gave up on us.
                self.sock.setblocking(False)
                try:
                    return self.sock.recv(1, socket.MSG_PEEK) != b""
                except BlockingIOError:
                    return True
                finally:
                    self.sock.setblocking(True)
            self.sock.sendall(self.pending[:1])
            self.pending = self.pending[1:]
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Attack:
    """`count` slow connections kept open by one thread until `stop()`."""

    def __init__(self, url: str, count: int, drip: float, rows: int, kinds=KINDS) -> None:
        parts = urlsplit(url)
        batch = json.dumps({"instances": [ROW] * rows}).encode()
        self.conns = [
            SlowConnection(parts.hostname, parts.port or 80, kinds[i % len(kinds)], batch)
            for i in range(count)
        ]
        self.drip_every, self.reopened, self.failed_opens = drip, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        for conn in self.conns:
            self._open(conn)
        self._thread.start()

    def _open(self, conn: SlowConnection) -> None:
        try:
            conn.open()
        except OSError:
            self.failed_opens += 1
            conn.close()

    def _run(self) -> None:
        while not self._stop.wait(self.drip_every):
            for conn in self.conns:
                if not conn.drip():  # the server closed it: come back, as an attacker does
                    conn.close()
                    self._open(conn)
                    self.reopened += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self.conns:
            conn.close()


def predict(url: str, timeout: float) -> tuple[float, str]:
    """POST one row to /predict on a new connection; return (seconds, "200" or the failure)."""
    parts = urlsplit(url)
    body = json.dumps(ROW).encode()
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        outcome = str(response.status)
    except TimeoutError:
        outcome = "timeout"
    except OSError as exc:
        outcome = type(exc).__name__
    finally:
        conn.close()
    return time.perf_counter() - started, outcome


def normal_client(url: str, seconds: float, interval: float, timeout: float) -> list:
    """Predict every `interval` s for `seconds` s; return [(seconds, outcome)]."""
    results, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        results.append(predict(url, timeout))
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return results


def summary(results: list, deadline: float) -> dict:
    times = [t for t, outcome in results if outcome == "200"]
    failures: dict[str, int] = {}
    for _, outcome in results:
        if outcome != "200":
            failures[outcome] = failures.get(outcome, 0) + 1
    within = sum(1 for t, outcome in results if outcome == "200" and t <= deadline)
    return {
        "sent": len(results),
        "within_deadline": within,
        "fraction": round(within / len(results), 3) if results else 0.0,
        "median_ms": round(statistics.median(times) * 1000, 1) if times else None,
        "max_ms": round(max(times) * 1000, 1) if times else None,
        "failures": failures,
    }


def run(args: argparse.Namespace) -> dict:
    """Open the slow connections, time the normal client during and after; return the figures."""
    attack = Attack(args.url, args.slow, args.drip, args.rows, args.kinds)
    attack.start()
    try:
        time.sleep(args.settle)  # let the server take them in before the clock starts
        during = normal_client(args.url, args.hold, args.interval, args.timeout)
    finally:
        attack.stop()
    after = [predict(args.url, args.timeout) for _ in range(args.after)]
    kinds = {kind: sum(1 for c in attack.conns if c.kind == kind) for kind in args.kinds}
    return {
        "url": args.url,
        "slow_connections": kinds,
        "drip_s": args.drip,
        "held_s": args.hold,
        "reopened": attack.reopened,
        "failed_opens": attack.failed_opens,
        "deadline_s": args.deadline,
        "during": summary(during, args.deadline),
        "after": summary(after, args.deadline),
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("url", help="the API's base URL, e.g. http://127.0.0.1:8000")
    p.add_argument("--slow", type=int, default=64, help="slow connections held (64)")
    p.add_argument("--hold", type=float, default=10.0, help="seconds they are held (10)")
    p.add_argument(
        "--kinds",
        type=lambda text: tuple(text.split(",")),
        default=KINDS,
        help="kinds of slow connection, taken in turn (headers,body,reader)",
    )
    p.add_argument("--drip", type=float, default=3.0, help="seconds between their bytes (3)")
    p.add_argument("--rows", type=int, default=10_000, help="rows in a reader's batch (10000)")
    p.add_argument("--interval", type=float, default=0.25, help="normal client's period (0.25)")
    p.add_argument("--deadline", type=float, default=1.0, help="an answer in time (1 s)")
    p.add_argument("--timeout", type=float, default=2.0, help="normal client gives up (2 s)")
    p.add_argument("--settle", type=float, default=1.0, help="seconds before timing (1)")
    p.add_argument("--after", type=int, default=20, help="predictions once they are gone (20)")
    p.add_argument("--want", type=float, default=0.95, help="fraction in time to pass (0.95)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    figures = run(args)
    ok = figures["during"]["fraction"] >= args.want and not figures["after"]["failures"]
    if args.json:
        print(json.dumps({**figures, "ok": ok}))
    else:
        during, after = figures["during"], figures["after"]
        print(
            f"{args.slow} slow connections {figures['slow_connections']} held {args.hold:g} s "
            f"(reopened {figures['reopened']}): {during['within_deadline']} of {during['sent']} "
            f"predictions answered within {args.deadline:g} s ({during['fraction']:.0%}), "
            f"median {during['median_ms']} ms, failures {during['failures']}; after: "
            f"{after['sent'] - sum(after['failures'].values())} of {after['sent']} answered, "
            f"failures {after['failures']}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
