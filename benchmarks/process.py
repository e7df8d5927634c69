"""Process-backend benchmarks: ``python -m benchmarks.process [--quick] [--no-ray]``.

- ``pingpong``: one awaited call at a time to a process actor, against two floors for a
  process hop carrying the same payload: a ``multiprocessing.Pipe`` round trip with both ends
  blocking (the issue's yardstick), and a Unix socket pair served by bare asyncio on both ends
  (what any event-loop program pays); plus Ray's sync actor call (``ray.get(a.m.remote())``)
  when Ray is installed (``pip install -e '.[bench]'``).
- ``cpu_parallel``: two process actors each running ~0.5 s of pure-Python work at once,
  against the same work done one after the other by one actor (the speed-up; 2 cores).
- ``startup``: from ``Counter.remote()`` to its first answer.

The systems take turns within each repeat and the ratio is taken per repeat, then the median:
absolute times drift a lot on a shared machine, ratios measured side by side much less.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import pickle
import socket
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

import actorio


class PlainCounter:
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


Counter = actorio.remote(backend="process")(PlainCounter)


def _echo(conn: Connection) -> None:
    n = 0
    while True:
        x = conn.recv()
        if x is None:
            return
        n += x
        conn.send(n)


def _spawn(target: Any, arg: Any) -> multiprocessing.process.BaseProcess:
    proc = multiprocessing.get_context("spawn").Process(target=target, args=(arg,))
    proc.start()
    return proc


def pipe_pingpong(n: int) -> float:
    """Microseconds per round trip over a bare multiprocessing pipe (sync, both ends)."""
    parent, child = multiprocessing.Pipe()
    proc = _spawn(_echo, child)
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


def _asyncio_echo(sock: socket.socket) -> None:
    """The child of :func:`asyncio_pingpong`: a loop reading pickled calls, answering each."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        n = 0

        def readable() -> None:
            nonlocal n
            data = sock.recv(1 << 16)
            if not data:
                done.set()
                return
            _, _, args = pickle.loads(data)
            n += args[0]
            sock.sendall(pickle.dumps(("result", True, n)))

        loop.add_reader(sock.fileno(), readable)
        await done.wait()

    actorio.run(serve())


def asyncio_pingpong(n: int) -> float:
    """Microseconds per round trip between two bare event loops (uvloop when installed)
    over a Unix socket pair: the floor for any loop-driven process hop."""
    parent, child = socket.socketpair()
    proc = _spawn(_asyncio_echo, child)
    child.close()

    async def drive() -> float:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()

        def readable() -> None:
            waiter.set_result(pickle.loads(parent.recv(1 << 16)))

        loop.add_reader(parent.fileno(), readable)
        message = pickle.dumps(("inc", 1, (1,)))

        async def once() -> None:
            nonlocal waiter
            waiter = loop.create_future()
            parent.sendall(message)
            await waiter

        for _ in range(200):
            await once()
        start = time.perf_counter()
        for _ in range(n):
            await once()
        elapsed = time.perf_counter() - start
        loop.remove_reader(parent.fileno())
        return elapsed / n * 1e6

    result = actorio.run(drive())
    parent.close()
    proc.join()
    return result


def ray_pingpong(n: int) -> float:
    """Microseconds per sync call (``ray.get(a.inc.remote(1))``) to a Ray actor."""
    import ray

    counter = ray.remote(PlainCounter).remote()  # the same user class
    for _ in range(200):
        ray.get(counter.inc.remote(1))
    start = time.perf_counter()
    for _ in range(n):
        ray.get(counter.inc.remote(1))
    elapsed = time.perf_counter() - start
    ray.kill(counter)
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
    parser.add_argument("--no-ray", action="store_true", help="skip Ray even if installed")
    args = parser.parse_args()
    n, repeat, loops = (500, 2, 300_000) if args.quick else (5_000, 5, 3_000_000)
    with_ray = not args.no_ray and importlib.util.find_spec("ray") is not None
    if with_ray:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    times: dict[str, list[float]] = {"pipe": [], "asyncio": [], "actorio": [], "ray": []}
    for _ in range(repeat):  # the systems take turns: drift hits them alike
        times["pipe"].append(pipe_pingpong(n))
        times["asyncio"].append(asyncio_pingpong(n))
        times["actorio"].append(actorio.run(actorio_pingpong(n)))
        if with_ray:
            times["ray"].append(ray_pingpong(n))
    speedup = statistics.median(cpu_parallel(loops) for _ in range(repeat))
    start = statistics.median(startup_ms() for _ in range(repeat))
    med = {k: statistics.median(v) for k, v in times.items() if v}

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    print(f"process backend, median of {repeat} repeats ({os.cpu_count()} cores)")
    print(
        f"pingpong us/call: actorio {med['actorio']:.1f}, multiprocessing pipe "
        f"{med['pipe']:.1f}, bare asyncio socket {med['asyncio']:.1f}"
        + (f", Ray {med['ray']:.1f}" if with_ray else ", Ray skipped (not installed)")
    )
    rows = [
        ("pingpong", "actorio / multiprocessing pipe", ratio("actorio", "pipe"), "<=", 2.0),
        ("pingpong", "actorio / bare asyncio socket", ratio("actorio", "asyncio"), "<=", None),
        ("cpu_parallel", "speed-up of 2 actors over 1", speedup, ">=", 1.7),
        ("startup", "ms to first answer", start, "<=", 300.0),
    ]
    if with_ray:
        rows.insert(2, ("pingpong", "Ray sync call / actorio", ratio("ray", "actorio"), ">", 1.0))
    for name, detail, value, direction, target in rows:
        if target is None:
            print(f"{name:13s} {detail:34s} {value:8.2f}")
            continue
        ok = value <= target if direction == "<=" else value >= target
        verdict = "PASS" if ok else "MISS"
        print(f"{name:13s} {detail:34s} {value:8.2f} {direction} {target:g}  {verdict}")
    actorio.shutdown()
    if with_ray:
        ray.shutdown()


if __name__ == "__main__":
    main()
