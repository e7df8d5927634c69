"""web_endpoint: one FastAPI app's counter endpoint, three ways, under a real HTTP load.

The routes (all ``async def``, POST, returning a dict as JSON with no response model, so
they differ only in the call under test): ``/plain`` increments a
:class:`~benchmarks._users.Counter` the app holds and returns the count; ``/sleep0`` does the
same after one ``await asyncio.sleep(0)``, one turn of the loop; ``/actor`` returns
``{"count": await counter.inc.remote(1)}`` from an actor of the same class that the app's
lifespan creates, on the server's own loop.

The server runs in a thread of this child: a real ``uvicorn.Server`` (``loop="uvloop"``,
``http="httptools"`` as uvicorn's standard install serves, no access log) on a socket bound
here to a free port of 127.0.0.1, started once and serving all three routes. wrk is a separate
process with one thread and 32 connections: the server is one loop on one of the 2 cores, so
one wrk thread has the other core to itself, where a second would take turns with the server.
While wrk runs, this thread waits in ``subprocess.run`` and leaves the GIL to the server. The
collector stays on: this is a server as deployed.

Each route is warmed up by one wrk run of ``_WARM_S``; then ``config.rounds`` rounds each run
wrk on the three routes for ``config.web_s`` seconds, in an order that rotates from round to
round, so drift hits all three alike. Each round gives the actor's requests/s over plain's in
that same round (and sleep(0)'s over plain's); the medians of those and of every route's
requests/s and p50/p99 latency are the result.

Every request is counted: each route also counts the requests it served, and at the end
each counter (the actor's read by the lifespan on shutdown) must equal that count exactly,
which must lie between the answers wrk read and the requests it wrote (warm-up included),
else the workload fails. (When its time is up wrk closes its connections with up to one
request each in flight; the server may or may not have served those, see :mod:`._wrk`.)
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from importlib.metadata import version
from typing import TYPE_CHECKING

from . import _wrk
from ._calls import Result, _check
from ._config import Config
from ._users import Counter
from .systems import System
from .systems._actorio import ActorioLocal

if TYPE_CHECKING:
    from fastapi import FastAPI

    import actorio

__all__ = ["CONNECTIONS", "ROUTES", "THREADS", "measure"]

ROUTES = ("plain", "sleep0", "actor")
CONNECTIONS = 32
THREADS = 1  # one core for the server's loop, one for wrk
_WARM_S = 1  # wrk's shortest run: its durations are whole seconds
_START_S = 60.0
_STOP_S = 60.0


class _App:
    """What the routes use, and what the workload reads back at the end."""

    #: Set by the lifespan, before the server takes its first request.
    actor: actorio.ActorHandle[Counter]

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.plain = Counter()
        self.sleepy = Counter()
        self.started = False
        self.loop = ""  # the server loop's module, checked: this measures uvloop
        #: Set once the lifespan has made the actor, or once the server has ended without.
        self.ready = threading.Event()
        self.actor_count = -1  # read by the lifespan on shutdown
        #: requests each route served (one int increment in each, so the three pay alike)
        self.served = dict.fromkeys(ROUTES, 0)


def _build(app_state: _App) -> FastAPI:
    from fastapi import FastAPI

    import actorio

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app_state.loop = type(asyncio.get_running_loop()).__module__
        app_state.actor = actorio.remote(Counter).options(backend=app_state.backend).remote()
        app_state.started = True
        app_state.ready.set()
        yield
        app_state.actor_count = await app_state.actor.inc.remote(0)

    app = FastAPI(lifespan=lifespan)
    served = app_state.served

    @app.post("/plain", response_model=None)
    async def plain() -> dict[str, int]:
        count = app_state.plain.inc(1)
        served["plain"] += 1
        return {"count": count}

    @app.post("/sleep0", response_model=None)
    async def sleep0() -> dict[str, int]:
        await asyncio.sleep(0)
        count = app_state.sleepy.inc(1)
        served["sleep0"] += 1
        return {"count": count}

    @app.post("/actor", response_model=None)
    async def actor() -> dict[str, int]:
        count = await app_state.actor.inc.remote(1)
        served["actor"] += 1
        return {"count": count}

    return app


@contextmanager
def _serving(app_state: _App) -> Iterator[str]:
    """The server, up in a thread of its own; yields its URL; stops it (the lifespan's
    shutdown runs once every request in flight has been served)."""
    import uvicorn

    config = uvicorn.Config(
        _build(app_state),
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    # Bound here, so the port is known and free; wrk's connections wait in the backlog.
    sock = socket.create_server(("127.0.0.1", 0), backlog=1024)

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            app_state.ready.set()  # a server that failed to start must not be waited for

    thread = threading.Thread(target=serve, name="uvicorn", daemon=True)
    thread.start()
    try:
        app_state.ready.wait(_START_S)
        if not app_state.started:
            raise RuntimeError("web_endpoint: the server did not start (uvicorn's log: stderr)")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(_STOP_S)
        sock.close()
    if thread.is_alive():
        raise RuntimeError(f"web_endpoint: the server did not stop within {_STOP_S:.0f} s")


def _wrk_run(url: str, route: str, seconds: int) -> _wrk.WrkRun:
    return _wrk.run(f"{url}/{route}", seconds, threads=THREADS, connections=CONNECTIONS)


def _rounds(
    url: str, config: Config, answered: dict[str, int], written: dict[str, int]
) -> list[dict[str, _wrk.WrkRun]]:
    """The timed rounds, after one warm-up run per route; adds every run's answers and
    written requests to ``answered`` and ``written``."""
    for route in ROUTES:
        warm = _wrk_run(url, route, _WARM_S)
        answered[route] += warm.answered
        written[route] += warm.written
    rounds = []
    for r in range(config.rounds):
        shift = r % len(ROUTES)
        runs = {
            route: _wrk_run(url, route, config.web_s) for route in ROUTES[shift:] + ROUTES[:shift]
        }
        for route, run in runs.items():
            answered[route] += run.answered
            written[route] += run.written
        rounds.append(runs)
    return rounds


def _values(rounds: list[dict[str, _wrk.WrkRun]]) -> dict[str, float]:
    """Medians over the rounds; the ratios paired within each round."""

    def rps(route: str) -> list[float]:
        return [runs[route].requests_per_s for runs in rounds]

    plain = rps("plain")
    values = {
        f"{route}_vs_plain": statistics.median(
            v / p for v, p in zip(rps(route), plain, strict=True)
        )
        for route in ("actor", "sleep0")
    }
    for route in ROUTES:
        values[f"{route}_rps"] = statistics.median(rps(route))
        values[f"{route}_p50_us"] = statistics.median([runs[route].p50_us for runs in rounds])
        values[f"{route}_p99_us"] = statistics.median([runs[route].p99_us for runs in rounds])
    return values


def measure(system: System, config: Config) -> Result:
    if not isinstance(system, ActorioLocal):
        raise TypeError(f"web_endpoint runs on actorio's systems, not {system.name}")
    app_state = _App(system.backend)
    answered, written = dict.fromkeys(ROUTES, 0), dict.fromkeys(ROUTES, 0)
    with _serving(app_state) as url:
        rounds = _rounds(url, config, answered, written)
    if not app_state.loop.startswith("uvloop"):
        raise RuntimeError(f"web_endpoint: uvicorn served on {app_state.loop}, not uvloop")
    counts = {"plain": app_state.plain.n, "sleep0": app_state.sleepy.n}
    counts["actor"] = app_state.actor_count
    for route in ROUTES:
        served = app_state.served[route]
        _check(counts[route], served, f"web_endpoint /{route}")
        if not answered[route] <= served <= written[route]:
            raise RuntimeError(
                f"web_endpoint /{route}: served {served} requests, but wrk read "
                f"{answered[route]} answers and wrote {written[route]} requests"
            )
    info = {
        "rounds": len(rounds),
        "seconds": config.web_s,
        "threads": THREADS,
        "connections": CONNECTIONS,
        "requests": app_state.served,
        "server": f"uvicorn {version('uvicorn')} (uvloop, httptools), fastapi {version('fastapi')}",
        "wrk": _wrk.version(),
    }
    return _values(rounds), info
