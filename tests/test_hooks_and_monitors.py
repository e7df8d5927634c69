"""The __actorio_start__ / __actorio_stop__ hooks, actorio.monitor and actorio.wait_for_death.

Tests that take the ``backend`` fixture run on every backend (hook calls are logged to a file
there); the others log to a list shared with an in-process actor."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from _actors import (
    LIVES,
    WAIT,
    Counter,
    SyncLife,
    lines,
    ray_constructor_failure_is_final,
    tally,
)

import actorio
from actorio.exceptions import ActorDiedError, ActorMethodNotFoundError, TaskError

# -- __actorio_start__ -----------------------------------------------------------------------------


class _SyncStart:
    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.state = "constructed"
        events.append("init")

    def __actorio_start__(self) -> None:
        self.events.append("start")
        self.state = "started"

    def observe(self) -> str:
        self.events.append("call")
        return self.state


class _AsyncStart(_SyncStart):
    async def __actorio_start__(self) -> None:  # type: ignore[override]
        self.events.append("start begins")
        for _ in range(3):
            await asyncio.sleep(0)  # yields only: calls must still wait for the end
        self.events.append("start")
        self.state = "started"


class _AsyncActorSyncStart(_SyncStart):
    async def aobserve(self) -> str:
        self.events.append("call")
        return self.state


class _AsyncActorAsyncStart(_AsyncStart, _AsyncActorSyncStart):
    """An async actor (``aobserve``) with an async start hook."""


@pytest.mark.parametrize("mode", ["regular", "threaded"])
@pytest.mark.parametrize("hook", ["sync", "async"])
async def test_start_hook_runs_before_the_first_call(mode: str, hook: str) -> None:
    cls = actorio.remote(mode=mode)(_SyncStart if hook == "sync" else _AsyncStart)
    events: list[str] = []
    h = cls.remote(events)
    first = h.observe.remote()  # submitted before the hook can have run
    async with asyncio.timeout(WAIT):
        assert await first == "started"
        assert await h.observe.remote() == "started"
    assert events[0] == "init"
    assert events[-3:] == ["start", "call", "call"]
    with pytest.raises(ActorMethodNotFoundError):
        h.__actorio_start__.remote()  # type: ignore[attr-defined]  # hooks are not remote methods


@pytest.mark.parametrize("hook", ["sync", "async"])
async def test_start_hook_of_an_async_actor(hook: str) -> None:
    cls = actorio.remote(_AsyncActorSyncStart if hook == "sync" else _AsyncActorAsyncStart)
    events: list[str] = []
    h = cls.remote(events)
    refs = [h.aobserve.remote(), h.observe.remote()]
    async with asyncio.timeout(WAIT):
        assert await asyncio.gather(*refs) == ["started", "started"]
    assert events[-3:] == ["start", "call", "call"]


@pytest.mark.parametrize("hook", ["sync", "async"])
async def test_raising_start_hook_is_a_constructor_failure(hook: str) -> None:
    if hook == "sync":

        class Failing:
            def __actorio_start__(self) -> None:
                raise RuntimeError("cannot connect")

            def ping(self) -> str:
                return "pong"

    else:

        class Failing:  # type: ignore[no-redef]
            async def __actorio_start__(self) -> None:
                await asyncio.sleep(0)
                raise RuntimeError("cannot connect")

            def ping(self) -> str:
                return "pong"

    h = actorio.remote(Failing).remote()
    queued = h.ping.remote()
    async with asyncio.timeout(WAIT):
        reason = await actorio.monitor(h)
    assert "__actorio_start__ raised" in str(reason)
    for ref in (queued, h.ping.remote(), h.__ray_ready__.remote()):
        with pytest.raises(ActorDiedError, match="__actorio_start__ raised") as info:
            await ref
        cause = info.value.cause
        assert isinstance(cause, RuntimeError)
        assert isinstance(cause, TaskError)
        assert "Failing.__actorio_start__" in str(cause)
        assert "cannot connect" in cause.traceback_str


@actorio.remote(max_restarts=2)
class FlakyStart:
    """Its async start hook fails the first ``failures`` times."""

    def __init__(self, attempts: str, failures: int) -> None:
        self.attempts = attempts
        self.failures = failures
        self.gen = 0

    async def __actorio_start__(self) -> None:
        await asyncio.sleep(0)
        n = tally(self.attempts)
        if n <= self.failures:
            raise ConnectionError(f"start {n} failed")
        self.gen = n

    def which(self) -> int:
        return self.gen


@pytest.mark.ray_differs(
    "actorio.kill is ray.kill: the stop hook does not run (it does on exit_actor, "
    "__ray_terminate__ and shutdown)"
)
@pytest.mark.parametrize("hook", ["sync", "async"])
def test_hooks_bracket_the_calls(backend: str, tmp_path: Path, hook: str) -> None:
    log = tmp_path / "life"
    h = LIVES[hook].options(backend=backend).remote(str(log))
    first = h.increment.remote()  # submitted before the start hook can have run
    assert actorio.get(first, timeout=WAIT) == 1
    assert actorio.get(h.increment.remote(), timeout=WAIT) == 2
    death = actorio.monitor(h)
    actorio.kill(h)
    actorio.get(death, timeout=WAIT)
    assert lines(log) == ["init 1", "start 1", "call 1", "call 1", "stop 1"]
    with pytest.raises(ActorMethodNotFoundError):
        h.__actorio_stop__.remote()


def test_raising_start_hook_is_a_failed_constructor(backend: str, tmp_path: Path) -> None:
    recovers = FlakyStart.options(backend=backend).remote(str(tmp_path / "a"), 2)
    if backend == "ray":  # the hook runs, and its failure fails the constructor, for good
        refs = [recovers.which.remote()]
        ray_constructor_failure_is_final(refs, tmp_path / "a", "__actorio_start__")
        ray_constructor_failure_is_final(refs, tmp_path / "a", "start 1 failed")
        return
    assert actorio.get(recovers.which.remote(), timeout=WAIT) == 3
    never = FlakyStart.options(backend=backend, max_restarts=0).remote(str(tmp_path / "b"), 9)
    with pytest.raises(ActorDiedError, match="__actorio_start__ raised") as info:
        actorio.get(never.which.remote(), timeout=WAIT)
    assert isinstance(info.value.cause, ConnectionError)
    assert "FlakyStart.__actorio_start__" in str(info.value.cause)
    assert isinstance(info.value.cause, TaskError)
    assert "start 1 failed" in info.value.cause.traceback_str
    with pytest.raises(ActorMethodNotFoundError):
        never.__actorio_start__.remote()  # type: ignore[attr-defined]  # not a remote method


# -- __actorio_stop__ ------------------------------------------------------------------------------


class _SyncStop:
    def __init__(self, events: list[str], tag: str = "") -> None:
        self.events = events
        self.tag = tag
        self.events.append(f"init{tag}")

    def __actorio_stop__(self) -> None:
        self.events.append(f"stop{tag_of(self)}")

    def ping(self) -> str:
        return "pong"

    def quit(self) -> None:
        actorio.exit_actor()


class _AsyncStop(_SyncStop):
    async def __actorio_stop__(self) -> None:  # type: ignore[override]
        self.events.append(f"stop begins{tag_of(self)}")
        for _ in range(3):
            await asyncio.sleep(0)
        self.events.append(f"stop{tag_of(self)}")


def tag_of(obj: Any) -> str:
    return str(obj.tag)


def _stop_class(hook: str, **options: Any) -> Any:
    return actorio.remote(**options)(_SyncStop if hook == "sync" else _AsyncStop)


@pytest.mark.parametrize("watch", ["monitor_first", "kill_first"])
@pytest.mark.parametrize("hook", ["sync", "async"])
async def test_stop_hook_runs_on_kill_before_the_monitor_resolves(hook: str, watch: str) -> None:
    events: list[str] = []
    h = _stop_class(hook).remote(events)
    async with asyncio.timeout(WAIT):
        assert await h.ping.remote() == "pong"
        if watch == "monitor_first":
            watcher = actorio.monitor(h)
            actorio.kill(h)
        else:  # the natural idiom: the monitor is asked for while the stop hook is due
            actorio.kill(h)
            watcher = actorio.monitor(h)
        reason = await watcher
    assert isinstance(reason, ActorDiedError)
    assert events[0] == "init"
    assert events[-1] == "stop"
    assert events.count("stop") == 1


@pytest.mark.parametrize("hook", ["sync", "async"])
async def test_stop_hook_runs_on_the_old_instance_before_the_new_constructor(hook: str) -> None:
    events: list[str] = []
    counter = iter(range(1, 100))

    class Generations(_SyncStop if hook == "sync" else _AsyncStop):  # type: ignore[misc]
        def __init__(self, events: list[str]) -> None:
            super().__init__(events, tag=f" {next(counter)}")

    # Its base is picked at run time, so mypy sees none of its methods.
    h: actorio.ActorHandle[Any] = actorio.remote(max_restarts=2)(Generations).remote(events)
    async with asyncio.timeout(WAIT):
        assert await h.ping.remote() == "pong"
        actorio.kill(h, no_restart=False)
        assert await h.ping.remote() == "pong"
        actorio.kill(h, no_restart=False)
        assert await h.ping.remote() == "pong"
        watcher = actorio.monitor(h)
        actorio.kill(h)
        await watcher
    stops = [e for e in events if e.startswith(("init", "stop ")) and "begins" not in e]
    assert stops == ["init 1", "stop 1", "init 2", "stop 2", "init 3", "stop 3"]


@pytest.mark.parametrize("hook", ["sync", "async"])
async def test_stop_hook_runs_when_the_supervisor_exits(hook: str) -> None:
    events: list[str] = []
    async with actorio.supervisor() as sup:
        h = sup.start(_stop_class(hook), events)
        async with asyncio.timeout(WAIT):
            assert await h.ping.remote() == "pong"
        assert "stop" not in events
    assert events[-1] == "stop"
    monitor = actorio.monitor(h)
    assert monitor.done()
    assert "supervisor stopped" in str(monitor.result())


@pytest.mark.parametrize("hook", ["sync", "async"])
def test_stop_hook_runs_on_shutdown(hook: str) -> None:
    events: list[str] = []
    h = _stop_class(hook).remote(events)
    assert actorio.get(h.ping.remote(), timeout=WAIT) == "pong"
    watcher = actorio.monitor(h)
    actorio.shutdown()
    assert events[-1] == "stop"
    assert events.count("stop") == 1
    reason = actorio.get(watcher, timeout=WAIT)
    assert isinstance(reason, ActorDiedError)
    with pytest.raises(ActorDiedError):
        actorio.get(h.ping.remote(), timeout=WAIT)


def test_stop_hooks_of_many_actors_run_on_shutdown_with_calls_in_flight() -> None:
    events: list[str] = []
    release = threading.Event()

    @actorio.remote(mode="threaded", max_concurrency=1)
    class Slow(_SyncStop):
        def block(self) -> str:
            assert release.wait(WAIT)
            return "done"

    handles = [_stop_class("sync").remote(events) for _ in range(3)]
    slow = Slow.remote(events)
    blocked = slow.block.remote()
    assert actorio.get([h.ping.remote() for h in handles], timeout=WAIT) == ["pong"] * 3
    try:
        actorio.shutdown(timeout=0)
    finally:
        release.set()
    assert events.count("stop") == 4
    with pytest.raises(ActorDiedError, match="shutdown"):
        actorio.get(blocked, timeout=WAIT)


@pytest.mark.parametrize("hook", ["sync", "async"])
async def test_raising_stop_hook_is_logged_and_the_actor_dies(
    hook: str, caplog: pytest.LogCaptureFixture
) -> None:
    if hook == "sync":

        class Messy:
            def __actorio_stop__(self) -> None:
                raise OSError("disk gone")

            def ping(self) -> str:
                return "pong"

    else:

        class Messy:  # type: ignore[no-redef]
            async def __actorio_stop__(self) -> None:
                await asyncio.sleep(0)
                raise OSError("disk gone")

            def ping(self) -> str:
                return "pong"

    h = actorio.remote(Messy).remote()
    with caplog.at_level(logging.ERROR, logger="actorio"):
        async with asyncio.timeout(WAIT):
            assert await h.ping.remote() == "pong"
            watcher = actorio.monitor(h)
            actorio.kill(h)
            reason = await watcher
    assert "killed with actorio.kill()" in str(reason)
    with pytest.raises(ActorDiedError, match=r"killed with actorio\.kill\(\)"):
        await h.ping.remote()
    records = [r for r in caplog.records if r.name == "actorio"]
    assert len(records) == 1, [r.getMessage() for r in records]
    record = records[0]
    assert record.levelno == logging.ERROR
    assert "Messy.__actorio_stop__" in record.getMessage()
    assert "the actor stops anyway" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], OSError)
    assert "disk gone" in str(record.exc_info[1])


async def test_raising_stop_hook_does_not_prevent_a_restart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inits: list[int] = []

    @actorio.remote(max_restarts=1)
    class Messy:
        def __init__(self) -> None:
            inits.append(1)
            self.gen = len(inits)

        def __actorio_stop__(self) -> None:
            raise OSError(f"stop of generation {self.gen}")

        def gen_(self) -> int:
            return self.gen

    h = Messy.remote()
    with caplog.at_level(logging.ERROR, logger="actorio"):
        async with asyncio.timeout(WAIT):
            assert await h.gen_.remote() == 1
            actorio.kill(h, no_restart=False)
            assert await h.gen_.remote() == 2
    messages = [r.getMessage() for r in caplog.records if r.name == "actorio"]
    assert len(messages) == 1
    assert "Messy.__actorio_stop__" in messages[0]


@pytest.mark.ray_differs(
    "calls queued behind exit_actor() fail with Ray's text, which need not name exit_actor"
)
@pytest.mark.parametrize("hook", ["sync", "async"])
def test_exit_actor_runs_the_stop_hook(backend: str, tmp_path: Path, hook: str) -> None:
    log = tmp_path / "life"
    h = LIVES[hook].options(backend=backend, max_restarts=-1).remote(str(log))
    assert actorio.get(h.increment.remote(), timeout=WAIT) == 1
    death = actorio.monitor(h)
    exiting = h.quit.remote()
    behind = h.increment.remote()
    for ref in (exiting, behind):
        with pytest.raises(ActorDiedError, match="exit_actor"):
            actorio.get(ref, timeout=WAIT)
    assert "exit_actor" in str(actorio.get(death, timeout=WAIT))
    assert lines(log) == ["init 1", "start 1", "call 1", "stop 1"]  # and never restarted


# -- monitors ----------------------------------------------------------------------------------


async def test_monitor_resolves_only_on_final_death() -> None:
    events: list[str] = []
    h = _stop_class("async", max_restarts=1).remote(events)
    watcher = actorio.monitor(h)
    async with asyncio.timeout(WAIT):
        assert await h.ping.remote() == "pong"
        actorio.kill(h, no_restart=False)
        assert await h.ping.remote() == "pong"  # restarted
    # The one short wait of this file: the monitor must stay pending across a restart.
    done, pending = await asyncio.wait([watcher], timeout=0.05)
    assert not done
    assert pending == {watcher}
    actorio.kill(h)
    async with asyncio.timeout(WAIT):
        reason = await watcher
    assert isinstance(reason, ActorDiedError)  # a value, not an exception
    assert "killed with actorio.kill()" in str(reason)
    assert events.count("stop") == 2  # the restart's and the final one
    assert events[-1] == "stop"


async def test_monitor_of_a_dead_actor_resolves_at_once() -> None:
    h = _stop_class("sync").remote([])
    async with asyncio.timeout(WAIT):
        assert await h.ping.remote() == "pong"
        actorio.kill(h)
        first = await actorio.monitor(h)
    again = actorio.monitor(h)
    assert again.done()
    assert again.result() is first
    assert await actorio.wait_for_death(h) is first


async def test_every_monitor_resolves_after_the_stop_hook() -> None:
    events: list[str] = []
    h = _stop_class("async").remote(events)
    watchers = [actorio.monitor(h) for _ in range(3)]
    seen: list[list[str]] = []

    async def watch() -> ActorDiedError:
        reason = await actorio.wait_for_death(h)
        seen.append(list(events))
        return reason

    waiter = asyncio.create_task(watch())
    async with asyncio.timeout(WAIT):
        assert await h.ping.remote() == "pong"
        actorio.kill(h)
        reasons = await asyncio.gather(*watchers)
        reason = await waiter
    assert all(r is reason for r in reasons)
    assert seen[0][-2:] == ["stop begins", "stop"]


async def test_monitor_of_a_constructor_failure_carries_the_cause() -> None:
    @actorio.remote
    class Broken:
        def __init__(self) -> None:
            raise ValueError("no such table")

        def ping(self) -> str:
            return "pong"

    h = Broken.remote()
    async with asyncio.timeout(WAIT):
        reason = await actorio.wait_for_death(h)
    assert "constructor raised" in str(reason)
    assert isinstance(reason.cause, ValueError)
    assert "no such table" in str(reason.cause)


def test_monitor_from_sync_code_and_other_threads() -> None:
    events: list[str] = []
    h = _stop_class("async").remote(events)
    watcher = actorio.monitor(h)
    from_thread: list[Any] = []
    made = threading.Event()

    def watch_in_thread() -> None:
        ref = actorio.monitor(h)
        made.set()
        from_thread.append(actorio.get(ref, timeout=WAIT))

    t = threading.Thread(target=watch_in_thread)
    t.start()
    assert made.wait(WAIT)
    assert actorio.get(h.ping.remote(), timeout=WAIT) == "pong"
    assert not watcher.done()
    actorio.kill(h)
    reason = actorio.get(watcher, timeout=WAIT)
    t.join(WAIT)
    assert not t.is_alive()
    assert isinstance(reason, ActorDiedError)
    assert from_thread == [reason]
    assert events[-1] == "stop"
    assert actorio.get(actorio.monitor(h), timeout=WAIT) is reason


@pytest.mark.ray_differs(
    "calls made while Ray restarts an actor fail (ActorUnavailableError) unless retried; "
    "ray.kill runs no stop hook"
)
async def test_monitor_and_wait_for_death(backend: str, tmp_path: Path) -> None:
    log = tmp_path / "life"
    h = SyncLife.options(backend=backend, max_restarts=1).remote(str(log))
    death = actorio.monitor(h)
    async with asyncio.timeout(WAIT):
        assert await h.increment.remote() == 1
        actorio.kill(h, no_restart=False)
        assert await h.__ray_ready__.remote() is True
        assert await h.generation.remote() == 2
        assert not death.done()  # restarts do not resolve it
        actorio.kill(h)
        reason = await actorio.wait_for_death(h)
        assert isinstance(reason, ActorDiedError)
        assert "killed with actorio.kill()" in str(reason)
        assert str(await death) == str(reason)  # a value, never raised
        assert lines(log)[-1] == "stop 2"  # the stop hook ran before the monitor resolved
        late = actorio.monitor(h)  # of a dead actor: resolved at once
        assert str(await late) == str(reason)


@actorio.remote
class Watcher:
    """Async: watches another actor's death from inside an actor."""

    async def watch(self, counter: actorio.ActorHandle[Counter]) -> str:
        reason = await actorio.monitor(counter)
        return f"{type(reason).__name__}: {'exit_actor' in str(reason)}"

    async def ping(self) -> str:
        return "pong"


def test_monitor_from_inside_an_actor(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    w = Watcher.options(backend=backend).remote()
    watching = w.watch.remote(c)
    actorio.get(w.ping.remote(), timeout=WAIT)  # the watch is set up by now
    with pytest.raises(ActorDiedError):
        actorio.get(c.quit.remote(), timeout=WAIT)
    assert actorio.get(watching, timeout=WAIT) == "ActorDiedError: True"
