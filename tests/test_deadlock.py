"""Deadlock detection (waiting on a slot one's own call chain holds) and the loop watchdog."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest
from _actors import WAIT as BACKEND_WAIT

import actorio
from actorio.exceptions import DeadlockError, TaskError

WAIT = 10.0


def me() -> Any:
    return actorio.get_runtime_context().current_actor


@actorio.remote
class CallsItself:
    """Async; awaits a call to itself through the handle of its runtime context."""

    async def call_myself(self) -> int:
        me = actorio.get_runtime_context().current_actor
        result: int = await me.ping.remote()
        return result

    async def ping(self) -> int:
        return 1


@pytest.mark.ray_differs(
    "inside a Ray actor, current_actor's handle does not know the actor's max_concurrency, "
    "so only self-calls through a handle made by the creator are caught"
)
def test_deadlock_is_detected_on_every_backend(backend: str) -> None:
    g = CallsItself.options(backend=backend, max_concurrency=1).remote()
    with pytest.raises(DeadlockError, match="would deadlock"):
        actorio.get(g.call_myself.remote(), timeout=BACKEND_WAIT)


# -- an actor awaiting itself -----------------------------------------------------------------


@actorio.remote(max_concurrency=1)
class SelfCaller:
    def __init__(self) -> None:
        self.ran: list[str] = []

    async def await_self(self) -> int:
        result: int = await me().inner.remote()
        return result

    async def fire_and_forget(self) -> str:
        me().inner.remote()
        return "outer done"

    async def inner(self) -> int:
        self.ran.append("inner")
        return 42

    def history(self) -> list[str]:
        return list(self.ran)


async def test_awaiting_a_call_to_oneself_raises_deadlock_error() -> None:
    s = SelfCaller.remote()
    with pytest.raises(DeadlockError) as info:
        async with asyncio.timeout(WAIT):
            await s.await_self.remote()
    err = info.value
    assert isinstance(err, RuntimeError)
    assert isinstance(err, TaskError)  # raised inside the method, passed on to its caller
    message = str(err.cause)
    assert "awaiting SelfCaller.inner would deadlock" in message
    assert "the call chain SelfCaller -> SelfCaller waits on itself" in message
    assert "max_concurrency=1" in message
    assert "SelfCaller.await_self raised DeadlockError" in str(err)
    # The self call was queued all the same; it runs once the slot is free.
    assert await s.history.remote() == ["inner"]
    assert await s.inner.remote() == 42  # the actor is fine


async def test_fire_and_forget_call_to_oneself_runs_later() -> None:
    s = SelfCaller.remote()
    assert await s.fire_and_forget.remote() == "outer done"
    assert await s.history.remote() == ["inner"]  # FIFO: the self call ran before this one


async def test_awaiting_oneself_with_a_free_slot_works() -> None:
    s = SelfCaller.options(max_concurrency=2).remote()
    async with asyncio.timeout(WAIT):
        assert await s.await_self.remote() == 42
    assert await s.history.remote() == ["inner"]


def test_awaiting_oneself_from_sync_code_raises_deadlock_error() -> None:
    s = SelfCaller.remote()
    with pytest.raises(DeadlockError, match="SelfCaller -> SelfCaller"):
        actorio.get(s.await_self.remote(), timeout=WAIT)


# -- cycles through other actors ---------------------------------------------------------------


@actorio.remote(max_concurrency=1)
class A:
    async def outer(self, b: Any) -> int:
        result: int = await b.middle.remote(me())
        return result

    async def inner(self) -> int:
        return 7


@actorio.remote(max_concurrency=1)
class B:
    def __init__(self) -> None:
        self.seen: list[BaseException] = []

    async def middle(self, a: Any) -> int:
        try:
            result: int = await a.inner.remote()
        except DeadlockError as exc:
            self.seen.append(exc)
            raise
        return result

    def errors(self) -> list[str]:
        return [f"{type(e).__name__}: {e}" for e in self.seen]


async def test_cycle_through_another_actor_is_detected_and_named() -> None:
    a, b = A.remote(), B.remote()
    with pytest.raises(TaskError) as info:
        async with asyncio.timeout(WAIT):
            await a.outer.remote(b)
    assert "would deadlock" in str(info.value)
    [seen] = await b.errors.remote()  # raised where the cycle closes: B awaiting A
    assert seen.startswith("DeadlockError: awaiting A.inner would deadlock: ")
    assert "the call chain A -> B -> A waits on itself" in seen
    assert "the actor A (id " in seen


async def test_cycle_through_another_actor_reaches_the_caller_as_deadlock_error() -> None:
    # The error crosses two actors (B.middle -> A.outer -> caller) and must keep its type,
    # as every TaskError does: 'except DeadlockError' / 'except RuntimeError' must work.
    a, b = A.remote(), B.remote()
    with pytest.raises(DeadlockError, match=r"A -> B -> A") as info:
        async with asyncio.timeout(WAIT):
            await a.outer.remote(b)
    assert isinstance(info.value, RuntimeError)


async def test_calls_through_other_actors_without_a_cycle_are_fine() -> None:
    @actorio.remote(max_concurrency=1)
    class C:
        async def leaf(self) -> int:
            return 1

    @actorio.remote(max_concurrency=1)
    class Relay:
        async def relay(self, c: Any) -> int:
            result: int = await c.leaf.remote()
            return result + 1

    @actorio.remote(max_concurrency=1)
    class Top:
        async def top(self, r: Any, c: Any) -> int:
            result: int = await r.relay.remote(c)
            leaf: int = await c.leaf.remote()  # C twice in one chain: no cycle
            return result + leaf

    async with asyncio.timeout(WAIT):
        assert await Top.remote().top.remote(Relay.remote(), C.remote()) == 3


async def test_fire_and_forget_chain_back_to_a_busy_actor_is_not_a_deadlock() -> None:
    # A.start fires B.back (not awaited) and then waits for something else; B.back awaits a
    # call to A, which simply runs once A.start returns. No call waits on its own chain.
    submitted = asyncio.Event()
    go = asyncio.Event()

    @actorio.remote(max_concurrency=1)
    class Front:
        def __init__(self) -> None:
            self.refs: list[Any] = []

        async def start(self, back: Any) -> str:
            self.refs.append(back.back.remote(me()))
            await go.wait()
            return "started"

        async def answer(self) -> str:
            return "answer"

        def pending(self) -> Any:
            return self.refs[0]

    @actorio.remote(max_concurrency=1)
    class Back:
        async def back(self, front: Any) -> str:
            ref = front.answer.remote()
            submitted.set()
            result: str = await ref
            return result

    f = Front.remote()
    started = f.start.remote(Back.remote())
    async with asyncio.timeout(WAIT):
        await submitted.wait()
    go.set()
    assert await started == "started"
    back_ref = await f.pending.remote()
    async with asyncio.timeout(WAIT):
        assert await back_ref == "answer"


# -- threaded actors and concurrency groups ----------------------------------------------------


def test_threaded_actor_getting_its_own_call_raises_deadlock_error() -> None:
    @actorio.remote(mode="threaded", max_concurrency=1)
    class Blocker:
        def outer(self) -> int:
            result: int = actorio.get(me().inner.remote(), timeout=WAIT)
            return result

        def inner(self) -> int:
            return 5

    b = Blocker.remote()
    start = time.monotonic()
    with pytest.raises(DeadlockError, match=r"awaiting Blocker\.inner would deadlock") as info:
        actorio.get(b.outer.remote(), timeout=WAIT)
    assert time.monotonic() - start < WAIT / 2  # raised at once, not after get's timeout
    assert isinstance(info.value, RuntimeError)
    assert "Blocker -> Blocker" in str(info.value)
    assert actorio.get(b.inner.remote(), timeout=WAIT) == 5


async def test_call_to_another_concurrency_group_is_not_a_deadlock() -> None:
    @actorio.remote(max_concurrency=1, concurrency_groups={"io": 1})
    class Grouped:
        async def outer(self) -> str:
            declared: str = await me().side.remote()
            chosen: str = await me().plain.options(concurrency_group="io").remote()
            return declared + chosen

        @actorio.method(concurrency_group="io")
        async def side(self) -> str:
            return "side"

        async def plain(self) -> str:
            return "+plain"

    g = Grouped.remote()
    async with asyncio.timeout(WAIT):
        assert await g.outer.remote() == "side+plain"


def test_threaded_call_to_another_concurrency_group_is_not_a_deadlock() -> None:
    @actorio.remote(max_concurrency=1, concurrency_groups={"io": 1})
    class Grouped:
        def outer(self) -> str:
            result: str = actorio.get(me().side.remote(), timeout=WAIT)
            return result

        @actorio.method(concurrency_group="io")
        def side(self) -> str:
            return "side"

    g = Grouped.remote()
    assert actorio.get(g.outer.remote(), timeout=WAIT) == "side"


# -- the loop watchdog -------------------------------------------------------------------------


class Flag(logging.Handler):
    """Sets an event when the 'actorio' logger emits a warning."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.event.set()


@pytest.fixture
def warned() -> Any:
    flag = Flag()
    logger = logging.getLogger("actorio")
    logger.addHandler(flag)
    yield flag.event
    logger.removeHandler(flag)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "actorio"]


def test_watchdog_warns_once_about_a_blocking_regular_method(
    caplog: pytest.LogCaptureFixture, warned: threading.Event
) -> None:
    actorio.init(blocking_warning_s=0.05)

    @actorio.remote
    class Sleeper:
        def nap(self) -> str:
            time.sleep(0.5)  # the point of the test: a method that blocks its loop
            return "rested"

    s = Sleeper.options(placement="inline").remote()  # on the loop, as in async code
    with caplog.at_level(logging.WARNING, logger="actorio"):
        assert actorio.get(s.nap.remote(), timeout=WAIT) == "rested"
        assert warned.wait(WAIT)
        assert len(warnings_of(caplog)) == 1  # one per blockage, not one per watchdog tick
        warned.clear()
        assert actorio.get(s.nap.remote(), timeout=WAIT) == "rested"  # a second blockage
        assert warned.wait(WAIT)
    messages = warnings_of(caplog)
    assert len(messages) == 2
    for message in messages:
        assert message.startswith("Sleeper.nap has blocked the event loop for ")
        assert "threshold 0.05 s" in message
        assert "placement='thread'" in message


def test_watchdog_disabled_with_zero(caplog: pytest.LogCaptureFixture) -> None:
    actorio.init(blocking_warning_s=0)

    @actorio.remote
    class Sleeper:
        def nap(self) -> str:
            time.sleep(0.3)  # would trip the default 0.1 s threshold
            return "rested"

    with caplog.at_level(logging.WARNING, logger="actorio"):
        assert actorio.get(Sleeper.remote().nap.remote(), timeout=WAIT) == "rested"
    assert warnings_of(caplog) == []
    assert not any(t.name == "actorio-watchdog" for t in threading.enumerate())


def test_watchdog_ignores_a_long_method_that_keeps_yielding(
    caplog: pytest.LogCaptureFixture, warned: threading.Event
) -> None:
    actorio.init(blocking_warning_s=0.05)

    @actorio.remote
    class Patient:
        async def work(self) -> float:
            start = time.monotonic()
            for _ in range(50):
                time.sleep(0.002)  # short bursts of real work...
                await asyncio.sleep(0.01)  # ...with the loop free in between
            return time.monotonic() - start

        def sleep(self) -> None:
            time.sleep(0.3)

    p = Patient.remote()
    with caplog.at_level(logging.WARNING, logger="actorio"):
        assert actorio.get(p.work.remote(), timeout=WAIT) >= 0.5
    assert warnings_of(caplog) == []
    # The same watchdog does speak up about a real blockage (the test can fail).
    with caplog.at_level(logging.WARNING, logger="actorio"):
        actorio.get(p.sleep.remote(), timeout=WAIT)
        assert warned.wait(WAIT)
    assert [m.split(" has ")[0] for m in warnings_of(caplog)] == ["Patient.sleep"]
