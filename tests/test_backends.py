"""Where actors live: the backends themselves, and handles crossing between them.

The behaviours every backend must show are tested once, each in its feature's file, over the
``backend`` fixture (``local`` and ``process``; ``ray`` too with
``ACTORIO_TEST_BACKENDS=local,process,ray``). Shared actors and helpers are in ``_actors.py``.

- calls, arguments, errors, num_returns, handles, death: ``test_actor.py``
- modes, max_concurrency, concurrency groups: ``test_modes.py``
- named actors and namespaces: ``test_registry.py``
- ref arguments: ``test_ref.py``; ``actorio.get`` / ``actorio.wait``: ``test_api_get_wait.py``
- runtime context: ``test_runtime.py``; remote functions: ``test_function.py``
- restarts, readiness, retries: ``test_restarts.py``
- start/stop hooks and monitors: ``test_hooks_and_monitors.py``
- cancellation and per-call timeouts: ``test_cancel.py``; backpressure: ``test_backpressure.py``
- deadlock detection: ``test_deadlock.py``; streaming: ``test_streaming.py``
- generator functions, static and dynamic num_returns: ``test_generators.py``
- ``async def __init__``: ``test_async_init.py``
- graceful shutdown: ``test_shutdown.py``; supervisors: ``test_supervisor.py``

Backend-specific behaviour: ``test_process.py`` (worker processes), ``test_worker_crash.py``
(remote functions whose worker process dies) and ``test_ray.py``.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from _actors import WAIT, Counter, Relay, resolved

import actorio
from actorio.exceptions import InvalidArgumentsError


@actorio.remote
class Where:
    def pid(self) -> int:
        return os.getpid()


def test_process_actors_really_are_other_processes(backend: str) -> None:
    w = Where.options(backend=backend).remote()
    pid = actorio.get(w.pid.remote(), timeout=WAIT)
    assert (pid == os.getpid()) == (backend == "local")


def test_handles_cross_between_backends() -> None:
    local = Counter.remote()
    in_process = Relay.remote()
    worker = Relay.options(backend="process").remote()
    remote_counter = Counter.options(backend="process").remote(100)
    assert actorio.get(worker.bump_all.remote([local], 3), timeout=WAIT) == [3]
    assert actorio.get(in_process.bump_all.remote([remote_counter, local], 2), timeout=WAIT) == [
        102,
        5,
    ]
    assert actorio.get(worker.through.remote(in_process, remote_counter), timeout=WAIT) == [103]


@actorio.remote
async def later(value: int) -> int:
    await asyncio.sleep(0.05)
    return value


def test_constructor_and_call_take_refs_still_running(backend: str) -> None:
    if backend == "ray":  # Ray waits only for its own refs: an in-process one is refused
        with pytest.raises(InvalidArgumentsError, match="Ray can only wait for its own refs"):
            Counter.options(backend=backend).remote(resolved(later.remote(40)))
        return
    c = Counter.options(backend=backend).remote(resolved(later.remote(40)))
    assert actorio.get([c.increment.remote(resolved(later.remote(1))), c.increment.remote()]) == [
        41,
        42,
    ]
