"""Shared fixtures: every async test runs on asyncio (debug mode) and on uvloop, and every
test starts from a fresh actorio runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import actorio


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
def fresh_runtime() -> Iterator[None]:
    """Each test gets a new runtime; whatever it left behind is shut down."""
    actorio.shutdown(timeout=0)
    yield
    actorio.shutdown(timeout=0)


@pytest.fixture(params=["local", "process"])
def backend(request: pytest.FixtureRequest) -> str:
    """Where actors live: in this process, or each in its own worker process. Tests that take
    it keep all coordination inside their actors (nothing but pickled copies reaches a
    worker)."""
    return str(request.param)
