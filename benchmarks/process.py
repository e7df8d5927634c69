"""Process-backend benchmarks: ``python -m benchmarks.process [--quick]``.

- ``pingpong``: one awaited call at a time to a process actor, against the bare floor for a
  process hop: a ``multiprocessing.Pipe`` round trip to a child running the same counter.
- ``cpu_parallel``: two process actors each running ~0.5 s of pure-Python work at once,
  against the same work done one after the other by one actor (the speed-up; 2 cores).
- ``startup``: from ``Counter.remote()`` to its first answer.

Medians of several repeats; ratios are taken within the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection

import actorio

TARGETS = {"pingpong": 2.0, "cpu_parallel": 1.7, "startup_ms": 300.0}


@actorio.remote(backend="process")
class Counter:
    def __init__(self) -> None:
        self.n = 0

    def inc(self, x: int) -> int:
        self.n += x
        return self.n

    def spin(self, loops: int) -> int:
        total = 0
        for i in range(loops):
            total += i % 7
        return total


def _echo(conn: Connection) -> None:
    n = 0
    while True:
        x = conn.recv()
        if x is None:
            return
        n += x
        conn.send(n)


def pipe_pingpong(n: int) -> float:
    """Microseconds per round trip over a bare multiprocessing pipe (sync, both ends)."""
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=_echo, args=(child,))
    proc.start()
    for _ in range(200):
        parent.send(1)
        parent.recv()
    start = time.perf_counter()
    for _ in range(n):
        parent.send(1)
        parent.recv()
    elapsed = time.perf_counter() - start
    parent.send(None)
    proc.join()
    return elapsed / n * 1e6


async def actorio_pingpong(n: int) -> float:
    counter = Counter.remote()
    for _ in range(200):
        await counter.inc.remote(1)
    start = time.perf_counter()
    for _ in range(n):
        await counter.inc.remote(1)
    elapsed = time.perf_counter() - start
    actorio.kill(counter)
    return elapsed / n * 1e6


def cpu_parallel(loops: int) -> float:
    """Speed-up of two actors working at once over one actor doing both jobs."""
    a, b = Counter.remote(), Counter.remote()
    actorio.get([a.inc.remote(0), b.inc.remote(0)])  # both up
    start = time.perf_counter()
    actorio.get([a.spin.remote(loops), a.spin.remote(loops)])
    serial = time.perf_counter() - start
    start = time.perf_counter()
    actorio.get([a.spin.remote(loops), b.spin.remote(loops)])
    parallel = time.perf_counter() - start
    actorio.kill(a)
    actorio.kill(b)
    return serial / parallel


def startup_ms() -> float:
    start = time.perf_counter()
    counter = Counter.remote()
    actorio.get(counter.inc.remote(1))
    elapsed = time.perf_counter() - start
    actorio.kill(counter)
    return elapsed * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, 2 repeats (CI smoke)")
    args = parser.parse_args()
    n, repeat, loops = (500, 2, 300_000) if args.quick else (5_000, 5, 3_000_000)
    pipe = statistics.median(pipe_pingpong(n) for _ in range(repeat))
    ours = statistics.median(actorio.run(actorio_pingpong(n)) for _ in range(repeat))
    speedup = statistics.median(cpu_parallel(loops) for _ in range(repeat))
    start = statistics.median(startup_ms() for _ in range(repeat))
    rows = [
        ("pingpong", f"{ours:.1f} us/call vs pipe {pipe:.1f} us", ours / pipe, "<=", "pingpong"),
        ("cpu_parallel", f"{speedup:.2f}x speed-up on 2 actors", speedup, ">=", "cpu_parallel"),
        ("startup", f"{start:.0f} ms to first answer", start, "<=", "startup_ms"),
    ]
    print(f"process backend, median of {repeat} repeats")
    for name, detail, value, direction, key in rows:
        target = TARGETS[key]
        ok = value <= target if direction == "<=" else value >= target
        verdict = "PASS" if ok else "MISS"
        print(f"{name:13s} {detail:42s} {value:8.2f} {direction} {target:g}  {verdict}")
    actorio.shutdown()


if __name__ == "__main__":
    main()
