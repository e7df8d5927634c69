"""The state API, the Prometheus metrics and the dashboard's ASGI routes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import actorio
from actorio import dashboard
from actorio.exceptions import InvalidArgumentsError, MissingDependencyError
from actorio.util import metrics
from actorio.util.state import ActorState, get_actor, list_actors

WAIT = 20.0


@actorio.remote
class Worker:
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    def ok(self) -> int:
        return 1

    def boom(self, text: str) -> None:
        raise ValueError(text)

    async def hold(self) -> None:
        self.started.set()
        await self.release.wait()


@pytest.fixture(params=["local", "process"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _only(**filters: Any) -> ActorState:
    found = list_actors(**filters)
    assert len(found) == 1, found
    return found[0]


def test_counts_latency_and_errors(backend: str) -> None:
    w = Worker.options(backend=backend, name="w").remote()
    actorio.get([w.ok.remote() for _ in range(50)], timeout=WAIT)
    with pytest.raises(ValueError, match="bad input"):
        actorio.get(w.boom.remote("bad input"), timeout=WAIT)
    s = _only(name="w")
    assert (s.class_name, s.name, s.namespace, s.backend) == ("Worker", "w", "default", backend)
    assert (s.mode, s.state, s.restarts) == ("async", "ALIVE", 0)
    assert (s.calls_completed, s.calls_failed) == (50, 1)
    assert (s.mailbox_depth, s.calls_running) == (0, 0)
    assert 0 < s.latency_mean_ms < 10_000
    assert s.latency_p99_ms >= 0
    assert (s.pid == os.getpid()) == (backend == "local")
    (when, method, kind, text) = s.errors[0]
    assert when > 0
    assert (method, kind) == ("boom", "ValueError")
    assert "raise ValueError(text)" in text
    assert "ValueError: bad input" in text
    assert get_actor(w) == get_actor(s.actor_id)
    assert get_actor(w).calls_completed == 50  # type: ignore[union-attr]


async def test_running_and_queued_calls_are_seen(backend: str) -> None:
    # max_concurrency=1: one call runs (held inside the actor), three wait in the mailbox.
    w = Worker.options(backend=backend, max_concurrency=1, name="busy").remote()
    await w.ok.remote()
    held = w.hold.remote()
    queued = [w.ok.remote() for _ in range(3)]
    for _ in range(500):  # locally the first drain starts it; a process actor, once sent
        s = _only(name="busy")
        if (s.calls_running, s.mailbox_depth) == (1, 3):
            break
        await asyncio.sleep(0.01)
    assert (s.calls_running, s.mailbox_depth) == (1, 3)
    actorio.cancel(held)
    await asyncio.gather(*queued)
    s = _only(name="busy")
    assert (s.calls_running, s.mailbox_depth) == (0, 0)
    assert (s.calls_completed, s.calls_failed) == (4, 1)  # the cancelled one failed


def test_restart_and_death_are_reported(backend: str) -> None:
    w = Worker.options(backend=backend, name="r", max_restarts=1).remote()
    actorio.get(w.ok.remote(), timeout=WAIT)
    actorio.kill(w, no_restart=False)
    actorio.get(w.__ray_ready__.remote(), timeout=WAIT)
    assert _only(name="r").restarts == 1
    assert _only(name="r").state == "ALIVE"
    actorio.kill(w)
    actorio.get(actorio.monitor(w), timeout=WAIT)
    dead = get_actor(w)
    assert dead is not None
    assert dead.state == "DEAD"
    assert list_actors(filters=[("state", "=", "DEAD"), ("class_name", "=", "Worker")])


def test_filters_and_limits() -> None:
    a = Worker.options(name="a", namespace="one").remote()
    b = Worker.options(name="b", namespace="two").remote()
    actorio.get([a.ok.remote(), b.ok.remote()], timeout=WAIT)
    assert [s.name for s in list_actors()] == ["a", "b"]  # oldest first
    assert [s.name for s in list_actors(namespace="two")] == ["b"]
    assert [s.name for s in list_actors(filters=[("namespace", "!=", "two")])] == ["a"]
    assert [s.name for s in list_actors(class_name="Worker", state="ALIVE")] == ["a", "b"]
    assert list_actors(class_name="Nope") == []
    assert len(list_actors(limit=1)) == 1
    assert get_actor("no-such-id") is None
    with pytest.raises(InvalidArgumentsError, match="bad filter"):
        list_actors(filters=[("colour", "=", "red")])
    with pytest.raises(InvalidArgumentsError, match="actor id"):
        get_actor(42)


def test_prometheus_text_parses_and_matches_the_state() -> None:
    w = Worker.options(name='odd "name"\n').remote()
    actorio.get([w.ok.remote() for _ in range(7)], timeout=WAIT)
    families = {f.name: f for f in text_string_to_metric_families(metrics.prometheus_text())}
    completed = families["actorio_actor_calls_completed"]
    assert completed.type == "counter"
    (sample,) = completed.samples
    assert sample.value == 7
    assert sample.labels["name"] == 'odd "name"\n'
    assert sample.labels["class_name"] == "Worker"
    alive = [s for s in families["actorio_actors"].samples if s.labels["state"] == "ALIVE"]
    assert alive[0].value == 1


def test_prometheus_client_collector() -> None:
    w = Worker.remote()
    actorio.get([w.ok.remote() for _ in range(3)], timeout=WAIT)
    registry = CollectorRegistry()
    collector = metrics.register(registry)
    text = generate_latest(registry).decode()
    assert "actorio_actor_calls_completed_total{" in text
    assert 'class_name="Worker"' in text
    assert text.count("actorio_actor_calls_completed_total{") == 1
    registry.unregister(collector)


async def test_dashboard_routes() -> None:
    w = Worker.options(name="shown").remote()
    await w.ok.remote()
    transport = httpx.ASGITransport(app=dashboard.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://dash") as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "api/actors" in page.text
        assert "<script src" not in page.text  # no CDN, nothing to fetch from elsewhere
        data = (await client.get("/api/actors")).json()
        assert data["pid"] == os.getpid()
        (actor,) = data["actors"]
        assert (actor["name"], actor["calls_completed"], actor["errors"]) == ("shown", 1, [])
        json.dumps(data)  # plain JSON all the way down
        assert (await client.get("/metrics")).text.startswith("# HELP actorio_actors")
        assert (await client.get("/nope")).status_code == 404
        refused = await client.post("/api/actors")
        assert (refused.status_code, refused.headers["allow"]) == (405, "GET")
        head = await client.head("/api/actors")
        assert (head.status_code, head.content) == (200, b"")


async def test_dashboard_mounted_under_a_prefix() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = Starlette(routes=[Mount("/actorio", dashboard.app())])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        bare = await client.get("/actorio")
        assert bare.status_code in (307, 308)
        assert bare.headers["location"].endswith("/actorio/")
        assert (await client.get("/actorio/")).status_code == 200
        assert (await client.get("/actorio/api/actors")).json()["actors"] == []


def test_serve_binds_loopback_by_default() -> None:
    server = dashboard.serve(port=0)
    try:
        assert server.host == "127.0.0.1"
        assert httpx.get(server.url + "api/actors", timeout=WAIT).status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("module", "call", "extra"),
    [
        ("uvicorn", lambda: dashboard.serve(port=0), "web"),
        ("prometheus_client", lambda: metrics.register(CollectorRegistry()), "metrics"),
    ],
    ids=["dashboard.serve", "metrics.register"],
)
def test_a_missing_optional_package_is_named_with_its_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, call: Any, extra: str
) -> None:
    # A None entry in sys.modules makes the import itself fail, as when it is not installed.
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError, match=rf"pip install 'actorio\[{extra}\]'"):
        call()
