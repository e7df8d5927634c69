"""The workloads: each drives any system adapter through the same timed calls.

A workload warms its counter up, then times ``n`` calls and returns named metrics. The
``metric`` it declares is the one compared with the baseline, in the declared direction.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .systems import System

__all__ = ["WORKLOADS", "Workload"]

_clock = time.perf_counter_ns


@dataclass(frozen=True)
class Workload:
    name: str
    run: Callable[[System, int, int], Coroutine[Any, Any, dict[str, float]]]
    #: The metric compared with the baseline: ``system / baseline`` against ``target``.
    metric: str
    unit: str
    higher_is_better: bool
    target: float

    def meets(self, ratio: float) -> bool:
        return ratio >= self.target if self.higher_is_better else ratio <= self.target

    @property
    def target_text(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.target:g}"


@contextmanager
def _timed_section() -> Iterator[None]:
    """Collect first, then keep the collector off while timing.

    The collector runs when allocation counts say so, and its cost grows with everything alive
    in the process (earlier runs included), so it would add noise that belongs to no system.
    Allocation itself is still timed; only the collections are moved out of the timed section.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _check(last: int, expected: int, what: str) -> None:
    """Fail loudly if an adapter did not really make every call."""
    if last != expected:
        raise RuntimeError(f"{what}: the counter reached {last}, expected {expected}")


async def pingpong(system: System, n: int, warmup: int) -> dict[str, float]:
    """One awaited call at a time: the latency of a round trip.

    The mean comes from a pass with no per-call clock reads; a second pass times every call
    for the percentiles.
    """
    call = system.counter()
    for _ in range(warmup):
        await call(1)
    with _timed_section():
        start = _clock()
        for _ in range(n):
            await call(1)
        total = _clock() - start
    samples = [0] * n
    with _timed_section():
        for i in range(n):
            t0 = _clock()
            last = await call(1)
            samples[i] = _clock() - t0
    _check(last, warmup + 2 * n, "pingpong")
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"mean_us": total / n / 1e3, "p50_us": cuts[49] / 1e3, "p99_us": cuts[98] / 1e3}


async def pipelined(system: System, n: int, warmup: int) -> dict[str, float]:
    """Submit ``n`` calls without awaiting, then gather them: the throughput of one actor."""
    call = system.counter()
    await asyncio.gather(*[call(1) for _ in range(warmup)])
    with _timed_section():
        start = _clock()
        refs = [call(1) for _ in range(n)]
        results = await asyncio.gather(*refs)
        elapsed = _clock() - start
    _check(results[-1], warmup + n, "pipelined")
    return {"calls_per_s": n / elapsed * 1e9}


#: Every workload, in table order.
WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("pingpong", pingpong, "mean_us", "us/call", higher_is_better=False, target=1.5),
        Workload(
            "pipelined", pipelined, "calls_per_s", "calls/s", higher_is_better=True, target=0.7
        ),
    )
}
