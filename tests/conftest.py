"""Shared fixtures: every async test runs on asyncio (debug mode) and on uvloop, and every
test starts from a fresh actorio runtime."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs pytest on files it writes


def _tolerate_ast_systemerror() -> None:
    """CPython 3.11.7 can raise SystemError("AST constructor recursion depth mismatch") from
    ast.parse once Ray's C extension has run in the process (a CPython bug, not ours). pytest
    parses source to show a failure's traceback, and that error would end the whole session
    (INTERNALERROR) instead of reporting the one failure: show such an entry without source."""
    from _pytest._code.code import TracebackEntry

    original = TracebackEntry.getsource

    def getsource(self: TracebackEntry, astcache: Any = None) -> Any:
        try:
            return original(self, astcache)
        except SystemError:
            return None

    TracebackEntry.getsource = getsource  # type: ignore[method-assign]


_tolerate_ast_systemerror()


def _debug_asyncio_loop() -> asyncio.AbstractEventLoop:
    # Debug mode makes asyncio raise on call_soon from a foreign thread: it checks our
    # thread-safety on every test.
    loop = asyncio.new_event_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 10.0  # CI machines are slow; we are not testing that
    return loop


def _loop_factories() -> dict[str, Any]:
    factories: dict[str, Any] = {"asyncio": _debug_asyncio_loop}
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Any]:
    return _loop_factories()


@pytest.fixture(autouse=True)
def fresh_runtime(actorio_runtime: str) -> None:
    """Each test gets a new runtime from actorio's own pytest plugin, which fails the test if
    it leaves actors, threads or processes behind, and shuts down whatever it left."""


#: ``ACTORIO_TEST_BACKENDS=local,process,ray`` picks which backends the shared suites run on
BACKENDS = os.environ.get("ACTORIO_TEST_BACKENDS", "local,process").split(",")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on every backend may start worker processes or Ray actors: it gets 120 s
    instead of the default 60 (pyproject), unless it sets its own timeout."""
    for item in items:
        if "backend" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "timeout"
        ):
            item.add_marker(pytest.mark.timeout(120))


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[None]:
    """One local Ray (num_cpus=2) for the whole session, started by the tests themselves so
    that actorio.shutdown() between tests leaves it running."""
    import ray

    # Ray's workers import test modules by name, as the driver does: give them its path.
    path = os.pathsep.join([os.path.dirname(__file__), *sys.path])
    env = {"env_vars": {"PYTHONPATH": path}}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=env)
    yield
    ray.shutdown()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Where actors live: in this process, each in its own worker process, or on Ray. Tests
    that take it keep all coordination inside their actors (nothing but pickled copies
    reaches a worker)."""
    if request.param == "ray":
        request.getfixturevalue("ray_instance")
        differs = request.node.get_closest_marker("ray_differs")
        if differs is not None:  # runs, and is reported as an expected failure (docs/ray.md)
            why = f"differs on Ray: {differs.args[0]}"
            request.applymarker(pytest.mark.xfail(reason=why, strict=False))
    return str(request.param)
