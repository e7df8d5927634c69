"""Why actorio keeps its own thread pool: one blocking call handed to a worker thread and its
result back on the loop, through anyio's ``to_thread.run_sync`` and through actorio's pool.

Run with anyio installed (it is not a dependency): ``python -m benchmarks.anyio_pool``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import anyio
import anyio.to_thread

from actorio._threads import POOL

CALLS = 3000
ROUNDS = 5


def _work(x: int) -> int:
    return x + 1


async def _via_anyio(n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        await anyio.to_thread.run_sync(_work, i)
    return (time.perf_counter() - start) / n * 1e6


def _on_pool(loop: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> asyncio.Future[Any]:
    fut = loop.create_future()

    def run() -> None:
        result = fn(*args)
        loop.call_soon_threadsafe(fut.set_result, result)

    POOL.run(run)
    return fut


async def _via_pool(n: int) -> float:
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    for i in range(n):
        await _on_pool(loop, _work, i)
    return (time.perf_counter() - start) / n * 1e6


async def _fifty_sleeps(kind: str) -> float:
    """50 calls that each block for 0.2 s, all at once."""
    start = time.perf_counter()
    if kind == "anyio":
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(anyio.to_thread.run_sync, time.sleep, 0.2)
    else:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(_on_pool(loop, time.sleep, 0.2) for _ in range(50)))
    return time.perf_counter() - start


async def main() -> None:
    anyio_us, pool_us = [], []
    for _ in range(ROUNDS):  # alternated, so both see the same machine
        anyio_us.append(await _via_anyio(CALLS))
        pool_us.append(await _via_pool(CALLS))
    print(
        f"one call to a thread and back: anyio {statistics.median(anyio_us):.1f} us, "
        f"actorio's pool {statistics.median(pool_us):.1f} us (medians of {ROUNDS})"
    )
    print(
        f"50 calls blocking 0.2 s at once: anyio {await _fifty_sleeps('anyio'):.2f} s (its "
        f"default limiter runs 40 threads), actorio's pool {await _fifty_sleeps('pool'):.2f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
