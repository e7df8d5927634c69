"""Startup: the wall time of a whole program that creates one actor, calls it and exits.

actorio runs the Ray tutorial's counter script from ``examples/ray_seed/`` (``import actorio
as ray``), on each backend through ``ACTORIO_BACKEND``; Ray runs the same script with the
original ``import ray``. The others run the smallest program their users would write.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ._calls import Result

__all__ = ["measure"]

SEED = Path(__file__).parent.parent / "examples" / "ray_seed" / "counter_actor.py"
_SEED_NAME = "examples/ray_seed/counter_actor.py"
_SEED_OUT = "init_value=0, after_increment_value=1"

#: The user class of the hand-written programs, put in place of their ``#COUNTER`` line (each
#: program must stand alone).
_COUNTER = """
class Counter:
    def __init__(self):
        self.n = 0
    def inc(self, x):
        self.n += x
        return self.n
"""

_BARE = """
import asyncio
#COUNTER
async def serve(queue, obj):
    while True:
        fut, x = await queue.get()
        fut.set_result(obj.inc(x))

async def main():
    queue = asyncio.Queue()
    consumer = asyncio.create_task(serve(queue, Counter()))
    fut = asyncio.get_running_loop().create_future()
    queue.put_nowait((fut, 1))
    print(await fut)
    consumer.cancel()

asyncio.run(main())
""".replace("#COUNTER\n", _COUNTER)

_BARE_DEQUE = """
import asyncio
from collections import deque
#COUNTER
async def main():
    loop = asyncio.get_running_loop()
    items, obj, waiter = deque(), Counter(), loop.create_future()

    async def serve():
        nonlocal waiter
        while True:
            while items:
                fut, x = items.popleft()
                fut.set_result(obj.inc(x))
            waiter = loop.create_future()
            await waiter

    consumer = asyncio.create_task(serve())
    fut = loop.create_future()
    items.append((fut, 1))
    if not waiter.done():
        waiter.set_result(None)
    print(await fut)
    consumer.cancel()

asyncio.run(main())
""".replace("#COUNTER\n", _COUNTER)

_PYKKA = """
import pykka

class Counter(pykka.ThreadingActor):
    def __init__(self):
        super().__init__()
        self.n = 0
    def inc(self, x):
        self.n += x
        return self.n

ref = Counter.start()
print(ref.proxy().inc(1).get())
ref.stop()
"""

_XOSCAR = """
import asyncio
import xoscar as xo

class Counter(xo.Actor):
    def __init__(self):
        self.n = 0
    def inc(self, x):
        self.n += x
        return self.n

async def main():
    pool = await xo.create_actor_pool("127.0.0.1", n_process=0)
    async with pool:
        ref = await xo.create_actor(Counter, address=pool.external_address)
        print(await ref.inc(1))

asyncio.run(main())
"""


def _command(system: str) -> tuple[list[str], dict[str, str], str, str]:
    """argv, extra environment, the output that proves the work was done, and what ran."""
    if system.startswith("actorio-"):
        backend = {"ACTORIO_BACKEND": system.removeprefix("actorio-")}
        return [sys.executable, str(SEED)], backend, _SEED_OUT, _SEED_NAME
    if system == "ray":
        source = SEED.read_text().replace("import actorio as ray", "import ray", 1)
        return [sys.executable, "-c", source], {}, _SEED_OUT, f"{_SEED_NAME}, import ray"
    scripts = {"bare": _BARE, "bare-deque": _BARE_DEQUE, "pykka": _PYKKA, "xoscar": _XOSCAR}
    return [sys.executable, "-c", scripts[system]], {}, "1", "benchmarks/_startup.py"


def measure(system: str) -> Result:
    argv, extra, expected, script = _command(system)
    start = time.perf_counter()
    done = subprocess.run(
        argv, env={**os.environ, **extra}, capture_output=True, text=True, timeout=300
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or expected not in done.stdout:
        raise RuntimeError(f"{script} exited {done.returncode}: {done.stderr[-2000:]}")
    return {"wall_s": elapsed}, {"script": script}
