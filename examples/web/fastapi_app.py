"""Actors inside a FastAPI service: created in the lifespan, on the server's own loop.

    python examples/web/fastapi_app.py [--port 8000]

Then: ``curl -X POST 127.0.0.1:8000/increment``, the dashboard at
http://127.0.0.1:8000/actorio/ and Prometheus metrics at /metrics. Ctrl-C or SIGTERM drains
the actors gracefully (accepted calls finish, stop hooks run) before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

import actorio
from actorio import dashboard
from actorio.util import metrics


@actorio.remote
class Counter:
    """Shared state without a lock: the actor runs one call at a time."""

    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> int:
        self.count += 1
        return self.count

    def get(self) -> int:
        return self.count

    def __actorio_stop__(self) -> None:
        print(f"counter stopped at {self.count}", file=sys.stderr, flush=True)


@actorio.remote(max_concurrency=100)
class Reports:
    """An async actor: slow jobs interleave instead of queueing behind each other."""

    async def build(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return f"report after {seconds} s"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Created here, these actors live on uvicorn's loop: handlers call them with no thread hop.
    app.state.counter = Counter.options(name="counter").remote()
    app.state.reports = Reports.remote()
    yield
    # Shutdown (SIGTERM, Ctrl-C): let accepted calls finish, run stop hooks, then exit.
    await actorio.shutdown_async(timeout=5)


app = FastAPI(lifespan=lifespan)
app.mount("/actorio", dashboard.app())


@app.post("/increment")
async def increment(request: Request) -> dict[str, int]:
    return {"count": await request.app.state.counter.increment.remote()}


@app.get("/count")
async def count(request: Request) -> dict[str, int]:
    return {"count": await request.app.state.counter.get.remote()}


@app.get("/report")
async def report(request: Request, seconds: float = 0.5) -> dict[str, str]:
    return {"report": await request.app.state.reports.build.remote(seconds)}


@app.get("/metrics", response_class=PlainTextResponse)
async def prometheus() -> str:
    return metrics.prometheus_text()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="actorio inside FastAPI")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
