"""Actor classes and handles: creation, calls, errors, kill, exit, release."""

from __future__ import annotations

import asyncio
import gc
import pickle
import threading
import weakref
from typing import Any

import pytest

import actorio
from actorio.exceptions import (
    ActorDiedError,
    ActorMethodNotFoundError,
    DirectCallError,
    InvalidArgumentsError,
    NotInActorError,
    TaskError,
)

WAIT = 10.0


@actorio.remote
class Counter:
    def __init__(self, start: int = 0) -> None:
        self.count = start

    def increment(self, by: int = 1) -> int:
        self.count += by
        return self.count

    def get(self) -> int:
        return self.count

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def quit(self) -> None:
        actorio.exit_actor()


# -- misuse is caught at the call site ----------------------------------------------------------


def test_direct_calls_say_to_use_remote() -> None:
    with pytest.raises(DirectCallError, match=r"Counter\.remote\(") as info:
        Counter()
    assert isinstance(info.value, TypeError)
    c = Counter.remote()
    with pytest.raises(DirectCallError, match=r"increment\.remote\("):
        c.increment()


def test_unknown_method_lists_the_methods() -> None:
    c = Counter.remote()
    with pytest.raises(ActorMethodNotFoundError, match="no method 'incremnt'") as info:
        c.incremnt.remote()
    assert isinstance(info.value, AttributeError)
    assert "'increment'" in str(info.value)
    assert not hasattr(c, "nope")


async def test_wrong_arguments_fail_before_anything_is_queued() -> None:
    c = Counter.remote(1)
    with pytest.raises(InvalidArgumentsError, match=r"Counter\.increment\(by: int = 1\)"):
        c.increment.remote(1, 2)
    with pytest.raises(InvalidArgumentsError, match="unexpected keyword argument 'step'"):
        c.increment.remote(step=2)
    with pytest.raises(InvalidArgumentsError, match="Counter"):
        Counter.remote(1, 2, 3)
    assert await c.increment.remote(by=5) == 6  # keywords that fit are fine
    assert await c.get.remote() == 6


# -- errors reach the caller; the actor lives on -------------------------------------------------


async def test_method_error_is_the_original_type_with_remote_traceback() -> None:
    c = Counter.remote()
    with pytest.raises(ValueError, match="boom") as info:
        await c.fail.remote("boom")
    err = info.value
    assert isinstance(err, TaskError)
    assert isinstance(err.cause, ValueError)
    assert "Counter.fail" in str(err)
    assert "raise ValueError(message)" in err.traceback_str
    assert "in fail" in err.traceback_str
    assert await c.increment.remote() == 1  # still alive, state intact


def test_method_error_through_get() -> None:
    c = Counter.remote(7)
    with pytest.raises(actorio.exceptions.RayTaskError) as info:
        actorio.get(c.fail.remote("sync boom"))
    assert isinstance(info.value, ValueError)
    assert actorio.get(c.get.remote()) == 7


async def test_failing_constructor_kills_the_actor_with_its_cause() -> None:
    @actorio.remote
    class Broken:
        def __init__(self) -> None:
            raise KeyError("missing config")

        def ping(self) -> str:
            return "pong"

    b = Broken.remote()
    refs = [b.ping.remote(), b.ping.remote()]
    for ref in refs:
        with pytest.raises(ActorDiedError, match="constructor raised") as info:
            await ref
        cause = info.value.cause
        assert isinstance(cause, KeyError)
        assert isinstance(cause, TaskError)
        assert "missing config" in cause.traceback_str
    with pytest.raises(ActorDiedError):
        await b.ping.remote()


# -- kill and exit ---------------------------------------------------------------------------


async def test_kill_fails_queued_and_new_calls_and_cancels_running_async() -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    @actorio.remote(max_concurrency=1)
    class Worker:
        async def forever(self) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise

        async def later(self) -> int:
            return 1

    w = Worker.remote()
    running = w.forever.remote()
    queued = w.later.remote()
    async with asyncio.timeout(WAIT):
        await started.wait()
    actorio.kill(w)
    for ref in (running, queued, w.later.remote()):
        with pytest.raises(ActorDiedError, match=r"killed with actorio\.kill"):
            await ref
    async with asyncio.timeout(WAIT):  # the coroutine saw CancelledError inside it
        await cancelled.wait()


def test_kill_drops_the_result_of_a_running_threaded_call() -> None:
    @actorio.remote(max_concurrency=2)
    class Blocking:
        def block(self, started: threading.Event, release: threading.Event) -> str:
            started.set()
            assert release.wait(WAIT)
            return "finished"

    b = Blocking.remote()
    started, release = threading.Event(), threading.Event()
    ref = b.block.remote(started, release)
    assert started.wait(WAIT)
    actorio.kill(b)
    release.set()
    with pytest.raises(ActorDiedError):
        actorio.get(ref, timeout=WAIT)


async def test_exit_actor_ends_the_actor() -> None:
    c = Counter.remote()
    queued_behind = None
    exiting = c.quit.remote()
    queued_behind = c.increment.remote()
    for ref in (exiting, queued_behind, c.get.remote()):
        with pytest.raises(ActorDiedError, match="exit_actor"):
            await ref


def test_exit_actor_outside_an_actor() -> None:
    with pytest.raises(NotInActorError, match="inside an actor method"):
        actorio.exit_actor()


def test_kill_from_another_thread_while_busy() -> None:
    c = Counter.remote()
    refs = [c.increment.remote() for _ in range(1000)]
    killer = threading.Thread(target=actorio.kill, args=(c,))
    killer.start()
    killer.join(WAIT)
    outcomes = []
    for ref in refs:
        try:
            outcomes.append(actorio.get(ref, timeout=WAIT))
        except ActorDiedError:
            outcomes.append("died")
    done = [o for o in outcomes if o != "died"]
    # Whatever ran, ran in order and before the kill; everything else failed, nothing hung.
    assert done == list(range(1, len(done) + 1))
    assert outcomes[len(done) :] == ["died"] * (1000 - len(done))


# -- handles -----------------------------------------------------------------------------------


async def test_arguments_are_passed_by_reference() -> None:
    @actorio.remote
    class Appender:
        def add(self, items: list[int]) -> list[int]:
            items.append(len(items))
            return items

    shared: list[int] = []
    a = Appender.remote()
    assert await a.add.remote(shared) is shared
    assert shared == [0]


async def test_handle_pickles_to_the_same_actor_and_compares_equal() -> None:
    c = Counter.remote()
    copy = pickle.loads(pickle.dumps(c))
    assert copy == c
    assert hash(copy) == hash(c)
    await copy.increment.remote()
    assert await c.get.remote() == 1
    assert "Counter" in repr(c)


async def test_num_returns() -> None:
    @actorio.remote
    class Splitter:
        @actorio.method(num_returns=2)
        def pair(self) -> tuple[int, int]:
            return 1, 2

        def three(self) -> tuple[int, int, int]:
            return 1, 2, 3

        def side_effect(self, box: list[int]) -> None:
            box.append(1)

    s = Splitter.remote()
    a, b = s.pair.remote()
    assert (await a, await b) == (1, 2)
    x, y, z = s.three.options(num_returns=3).remote()
    assert await asyncio.gather(x, y, z) == [1, 2, 3]
    bad = s.three.options(num_returns=2).remote()
    with pytest.raises(InvalidArgumentsError, match="num_returns=2 but returned 3 values"):
        await bad[0]
    box: list[int] = []
    assert s.side_effect.options(num_returns=0).remote(box) is None
    await s.three.remote()  # FIFO: the num_returns=0 call has run by now
    assert box == [1]


# -- release -----------------------------------------------------------------------------------


async def test_anonymous_actor_is_released_with_its_last_handle() -> None:
    instances: list[Any] = []

    @actorio.remote
    class Tracked:
        def __init__(self) -> None:
            instances.append(weakref.ref(self))
            self.calls = 0

        def touch(self, box: list[int]) -> None:
            box.append(1)

    box: list[int] = []
    # The temporary handle is gone at once, yet the pending call still runs.
    ref = Tracked.remote().touch.remote(box)
    await ref
    del ref
    gc.collect()
    assert box == [1]
    assert instances[0]() is None

    keep = Tracked.remote()
    await keep.touch.remote(box)
    gc.collect()
    assert instances[1]() is not None
    del keep
    gc.collect()
    assert instances[1]() is None
