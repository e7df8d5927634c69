"""Actors inside a plain Starlette service (no FastAPI): a per-client rate limiter.

    python examples/web/starlette_app.py [--port 8001]

``GET /hello?client=alice`` answers 200 until alice has spent her 5 tokens (one comes back
every second), then 429. One actor holds every bucket, so there is no lock and no race.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import actorio
from actorio import dashboard


@actorio.remote
class RateLimiter:
    def __init__(self, capacity: int, per_second: float) -> None:
        self.capacity = capacity
        self.rate = per_second
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill)

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        tokens, last = self.buckets.get(client, (float(self.capacity), now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        allowed = tokens >= 1
        self.buckets[client] = (tokens - 1 if allowed else tokens, now)
        return allowed


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.limiter = RateLimiter.options(name="limiter").remote(5, 1.0)
    yield
    await actorio.shutdown_async(timeout=5)


async def hello(request: Request) -> JSONResponse:
    client = request.query_params.get("client", "anonymous")
    if not await request.app.state.limiter.allow.remote(client):
        return JSONResponse({"error": "slow down"}, status_code=429)
    return JSONResponse({"hello": client})


app = Starlette(
    routes=[Route("/hello", hello), Mount("/actorio", dashboard.app())], lifespan=lifespan
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="actorio inside Starlette")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
