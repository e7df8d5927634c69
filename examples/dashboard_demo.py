"""A few busy actors and the live dashboard: open the printed URL in a browser.

    python examples/dashboard_demo.py [--port 8265] [--seconds N]

A counter takes a steady stream of calls, an async fetcher interleaves slow ones, a parser
fails now and then (its tracebacks appear under "Latest errors"), and a process actor
crunches numbers in a worker process. Stops after ``--seconds`` or on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random

import actorio
from actorio import dashboard


@actorio.remote
class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> int:
        self.count += 1
        return self.count


@actorio.remote(max_concurrency=50)
class Fetcher:
    async def fetch(self, url: str) -> int:
        await asyncio.sleep(random.uniform(0.01, 0.2))  # a pretend network call
        return len(url)


@actorio.remote
class Parser:
    def parse(self, text: str) -> int:
        if "bad" in text:
            raise ValueError(f"cannot parse {text!r}")
        return int(text)


@actorio.remote(backend="process")
class Cruncher:
    def crunch(self, n: int) -> int:
        return sum(i * i for i in range(n))


async def main(port: int, seconds: float | None) -> None:
    server = dashboard.serve(port=port)
    print(f"dashboard: {server.url}", flush=True)
    counter = Counter.options(name="counter").remote()
    fetcher = Fetcher.options(name="fetcher").remote()
    parser = Parser.options(name="parser").remote()
    cruncher = Cruncher.options(name="cruncher").remote()
    loop = asyncio.get_running_loop()
    end = None if seconds is None else loop.time() + seconds
    step = 0
    try:
        while end is None or loop.time() < end:
            step += 1
            await asyncio.gather(*(counter.increment.remote() for _ in range(20)))
            for i in range(5):
                fetcher.fetch.remote(f"https://example.invalid/{step}/{i}")
            text = "bad input" if step % 25 == 0 else str(step)
            with contextlib.suppress(ValueError):
                await parser.parse.remote(text)
            if step % 10 == 0:
                cruncher.crunch.remote(200_000)
            await asyncio.sleep(0.05)
    finally:
        server.stop()


if __name__ == "__main__":
    args = argparse.ArgumentParser(description="actorio dashboard demo")
    args.add_argument("--port", type=int, default=8265, help="0 picks a free port")
    args.add_argument("--seconds", type=float, default=None, help="stop after this long")
    options = args.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        actorio.run(main(options.port, options.seconds))
