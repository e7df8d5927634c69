"""The per-call workloads, once for async systems (coroutines on the child's loop) and once
for sync systems (plain threads and the system's own blocking ``get``).

Each returns ``(values, info)``: the numbers compared across systems, and what was run.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ._config import Config
from ._users import BLOCK_S, NAP_S, SLEEP_S, spin, spun
from .systems import AsyncSystem, SyncSystem, System

__all__ = ["ASYNC", "SYNC", "Result", "blocking_actors", "calibrate", "sync_bridge"]

Result = tuple[dict[str, float], dict[str, Any]]

_clock = time.perf_counter
_CALLERS = 8  # n_n: callers, and actors
_CONCURRENT = 2_000  # async_concurrency: calls in flight at once
_BLOCKING = 64  # threaded_blocking: calls, on 16 threads
_CPU_ROUNDS = 2  # cpu_parallel: rounds of (one actor, two actors); the best of each counts
_SLEEPERS = 50  # blocking_actors: regular actors, one blocking call each per round
_SLEEP_BUDGET_S = 3.0  # blocking_actors: no new round once the rounds took this long


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """Collect first, then keep the collector off while timing.

    A collection's cost grows with everything alive in the process, earlier workloads
    included, so it would add noise that belongs to no system. Allocation is still timed.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _check(got: int, expected: int, what: str) -> None:
    """Fail loudly if an adapter did not really make every call."""
    if got != expected:
        raise RuntimeError(f"{what}: the counter reached {got}, expected {expected}")


def _check_all(results: Sequence[Any], expected: float, what: str) -> None:
    """Fail loudly if any call returned something else than its method's own result."""
    wrong = [r for r in results if r != expected]
    if wrong:
        raise RuntimeError(f"{what}: {len(wrong)} calls returned {wrong[0]!r}, not {expected!r}")


def _latency(total_s: float, samples: Sequence[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "mean_us": total_s / len(samples) * 1e6,
        "p50_us": cuts[49] * 1e6,
        "p99_us": cuts[98] * 1e6,
    }


def calibrate(seconds: float) -> int:
    """Loops of :func:`spin` that take ``seconds`` on this machine, now."""
    loops = 100_000
    while True:
        start = _clock()
        spin(loops)
        took = _clock() - start
        if took > 0.05:
            return max(1, int(loops * seconds / took))
        loops *= 4


def _speedup(serial: list[float], parallel: list[float]) -> dict[str, float]:
    """The best round of each: on a shared machine, other load only ever slows a round down,
    and a parallel round needs both cores free at once."""
    return {
        "speedup": min(serial) / min(parallel),
        "wall_s": min(parallel),
        "serial_s": min(serial),
    }


def _sizes(system: System, config: Config) -> tuple[int, int]:
    n = config.calls(system.max_calls)
    return n, min(config.warmup, n // 10)


# -- async systems ----------------------------------------------------------------------------


async def pingpong(system: AsyncSystem, config: Config) -> Result:
    """One awaited call at a time. The mean comes from a pass with no per-call clock reads; a
    second pass times every call for the percentiles."""
    n, warmup = _sizes(system, config)
    call = await system.counter()
    for _ in range(warmup):
        await call(1)
    with _quiet_gc():
        start = _clock()
        for _ in range(n):
            await call(1)
        total = _clock() - start
    samples = [0.0] * n
    with _quiet_gc():
        for i in range(n):
            t0 = _clock()
            last = await call(1)
            samples[i] = _clock() - t0
    _check(last, warmup + 2 * n, "pingpong")
    return _latency(total, samples), {"n": n}


async def pipelined(system: AsyncSystem, config: Config) -> Result:
    n, warmup = _sizes(system, config)
    call = await system.counter()
    await asyncio.gather(*[call(1) for _ in range(warmup)])
    with _quiet_gc():
        start = _clock()
        results = await asyncio.gather(*[call(1) for _ in range(n)])
        elapsed = _clock() - start
    _check(results[-1], warmup + n, "pipelined")
    return {"calls_per_s": n / elapsed}, {"n": n}


async def n_n(system: AsyncSystem, config: Config) -> Result:
    n, warmup = _sizes(system, config)
    calls = [await system.counter() for _ in range(_CALLERS)]
    per = n // _CALLERS

    async def caller(first: int, count: int) -> None:
        for k in range(count):
            await calls[(first + k) % _CALLERS](1)

    await asyncio.gather(*[caller(i, warmup // _CALLERS) for i in range(_CALLERS)])
    with _quiet_gc():
        start = _clock()
        await asyncio.gather(*[caller(i, per) for i in range(_CALLERS)])
        elapsed = _clock() - start
    total = sum([await call(0) for call in calls])
    _check(total, _CALLERS * (per + warmup // _CALLERS), "n_n")
    return {"calls_per_s": per * _CALLERS / elapsed}, {"n": per * _CALLERS}


async def async_concurrency(system: AsyncSystem, config: Config) -> Result:
    call = await system.napper()
    await asyncio.gather(*[call() for _ in range(100)])
    walls = []
    for _ in range(config.rounds):
        start = _clock()
        results = await asyncio.gather(*[call() for _ in range(_CONCURRENT)])
        walls.append(_clock() - start)
        _check_all(results, NAP_S, "async_concurrency")
    return {"wall_s": statistics.median(walls), "best_s": min(walls)}, {"calls": _CONCURRENT}


async def threaded_blocking(system: AsyncSystem, config: Config) -> Result:
    call = await system.blocker()
    await asyncio.gather(*[call() for _ in range(16)])  # every thread started
    start = _clock()
    results = await asyncio.gather(*[call() for _ in range(_BLOCKING)])
    wall = _clock() - start
    _check_all(results, BLOCK_S, "threaded_blocking")
    return {"wall_s": wall}, {"calls": _BLOCKING, "threads": 16}


async def cpu_parallel(system: AsyncSystem, config: Config) -> Result:
    loops = calibrate(config.cpu_seconds)
    a, b = await system.cruncher(), await system.cruncher()
    await asyncio.gather(a(1000), b(1000))  # both up
    serial, parallel = [], []
    for _ in range(_CPU_ROUNDS):
        start = _clock()
        one = await asyncio.gather(a(loops), a(loops))
        serial.append(_clock() - start)
        start = _clock()
        two = await asyncio.gather(a(loops), b(loops))
        parallel.append(_clock() - start)
        _check_all([*one, *two], spun(loops), "cpu_parallel")
    return _speedup(serial, parallel), {"loops": loops, "rounds": _CPU_ROUNDS}


# -- sync systems -----------------------------------------------------------------------------


def pingpong_sync(system: SyncSystem, config: Config) -> Result:
    n, warmup = _sizes(system, config)
    call, get = system.counter(), system.get
    for _ in range(warmup):
        get(call(1))
    with _quiet_gc():
        start = _clock()
        for _ in range(n):
            get(call(1))
        total = _clock() - start
    samples = [0.0] * n
    with _quiet_gc():
        for i in range(n):
            t0 = _clock()
            last = get(call(1))
            samples[i] = _clock() - t0
    _check(last, warmup + 2 * n, "pingpong")
    return _latency(total, samples), {"n": n}


def pipelined_sync(system: SyncSystem, config: Config) -> Result:
    n, warmup = _sizes(system, config)
    call = system.counter()
    system.get_all([call(1) for _ in range(warmup)])
    with _quiet_gc():
        start = _clock()
        results = system.get_all([call(1) for _ in range(n)])
        elapsed = _clock() - start
    _check(results[-1], warmup + n, "pipelined")
    return {"calls_per_s": n / elapsed}, {"n": n}


def n_n_sync(system: SyncSystem, config: Config) -> Result:
    """The callers are threads: what users of a blocking API run concurrent callers on."""
    n, warmup = _sizes(system, config)
    calls, get = [system.counter() for _ in range(_CALLERS)], system.get
    per = n // _CALLERS

    def caller(first: int, count: int) -> None:
        for k in range(count):
            get(calls[(first + k) % _CALLERS](1))

    def run_all(count: int) -> float:
        gate = threading.Barrier(_CALLERS + 1)

        def run(first: int) -> None:
            gate.wait()
            caller(first, count)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(_CALLERS)]
        for t in threads:
            t.start()
        gate.wait()
        start = _clock()
        for t in threads:
            t.join()
        return _clock() - start

    run_all(warmup // _CALLERS)
    with _quiet_gc():
        elapsed = run_all(per)
    total = sum(get(call(0)) for call in calls)
    _check(total, _CALLERS * (per + warmup // _CALLERS), "n_n")
    return {"calls_per_s": per * _CALLERS / elapsed}, {"n": per * _CALLERS, "callers": "threads"}


def async_concurrency_sync(system: SyncSystem, config: Config) -> Result:
    call = system.napper()
    system.get_all([call() for _ in range(100)])
    walls = []
    for _ in range(config.rounds):
        start = _clock()
        results = system.get_all([call() for _ in range(_CONCURRENT)])
        walls.append(_clock() - start)
        _check_all(results, NAP_S, "async_concurrency")
    return {"wall_s": statistics.median(walls), "best_s": min(walls)}, {"calls": _CONCURRENT}


def threaded_blocking_sync(system: SyncSystem, config: Config) -> Result:
    call = system.blocker()
    system.get_all([call() for _ in range(16)])
    start = _clock()
    results = system.get_all([call() for _ in range(_BLOCKING)])
    wall = _clock() - start
    _check_all(results, BLOCK_S, "threaded_blocking")
    return {"wall_s": wall}, {"calls": _BLOCKING, "threads": 16}


def cpu_parallel_sync(system: SyncSystem, config: Config) -> Result:
    loops = calibrate(config.cpu_seconds)
    a, b = system.cruncher(), system.cruncher()
    system.get_all([a(1000), b(1000)])
    serial, parallel = [], []
    for _ in range(_CPU_ROUNDS):
        start = _clock()
        one = system.get_all([a(loops), a(loops)])
        serial.append(_clock() - start)
        start = _clock()
        two = system.get_all([a(loops), b(loops)])
        parallel.append(_clock() - start)
        _check_all([*one, *two], spun(loops), "cpu_parallel")
    return _speedup(serial, parallel), {"loops": loops, "rounds": _CPU_ROUNDS}


# -- every system -----------------------------------------------------------------------------


def sync_bridge(system: System, config: Config) -> Result:
    """Blocking calls from this thread, which runs no loop: the actors live elsewhere."""
    n = max(config.calls(system.max_calls) // 5, 100)
    warmup = min(config.warmup, n // 10)
    call = system.bridge()
    for _ in range(warmup):
        call(1)
    with _quiet_gc():
        start = _clock()
        for _ in range(n):
            last = call(1)
        total = _clock() - start
    _check(last, warmup + n, "sync_bridge")
    return {"mean_us": total / n * 1e6}, {"n": n}


def blocking_actors(system: System, config: Config) -> Result:
    """One blocking call per regular actor, all submitted from this thread (which runs no
    loop) before one wait for all. Up to ``config.rounds`` rounds, the median counts; a
    system that runs the calls one after another spends 50 x 0.2 s on a round, so the time
    budget stops it after one (the quick run stays quick, the verdict is the same)."""
    run_round = system.sleepers(_SLEEPERS)
    walls: list[float] = []
    while len(walls) < config.rounds and sum(walls) < _SLEEP_BUDGET_S:
        start = _clock()
        results = run_round()
        walls.append(_clock() - start)
        _check_all(results, SLEEP_S, "blocking_actors")
        if len(results) != _SLEEPERS:
            raise RuntimeError(f"blocking_actors: {len(results)} results, not {_SLEEPERS}")
    wall = statistics.median(walls)
    values = {"wall_s": wall, "best_s": min(walls), "vs_ideal": wall / SLEEP_S}
    return values, {"actors": _SLEEPERS, "rounds": len(walls)}


ASYNC: dict[str, Callable[[AsyncSystem, Config], Any]] = {
    f.__name__: f
    for f in (pingpong, pipelined, n_n, async_concurrency, threaded_blocking, cpu_parallel)
}
SYNC: dict[str, Callable[[SyncSystem, Config], Result]] = {
    f.__name__.removesuffix("_sync"): f
    for f in (
        pingpong_sync,
        pipelined_sync,
        n_n_sync,
        async_concurrency_sync,
        threaded_blocking_sync,
        cpu_parallel_sync,
    )
}
