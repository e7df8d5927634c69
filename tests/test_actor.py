"""Actor classes and handles: creation, calls, errors, kill, exit, release.

Tests that take the ``backend`` fixture run on every backend (conftest); the others check what
only an in-process actor can show (arguments passed by reference, objects shared with the test).
"""

from __future__ import annotations

import asyncio
import gc
import pickle
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from _actors import WAIT, Boom, Coded, Counter, Flaky, Keys, Relay, bump_and_read

import actorio
from actorio.exceptions import (
    ActorDiedError,
    ActorMethodNotFoundError,
    DirectCallError,
    InvalidArgumentsError,
    NotInActorError,
    TaskError,
)

# -- calls: order, results, arguments ----------------------------------------------------------


def test_calls_run_in_order_with_results(backend: str) -> None:
    c = Counter.options(backend=backend).remote(100)
    assert actorio.get([c.increment.remote() for _ in range(20)], timeout=WAIT) == list(
        range(101, 121)
    )


def test_keyword_arguments_and_defaults(backend: str) -> None:
    c = Counter.options(backend=backend).remote(start=5, step=2)
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 7  # by=1, times step=2
    assert actorio.get(c.increment.remote(by=3), timeout=WAIT) == 13
    assert actorio.get(c.params.remote(1), timeout=WAIT) == {
        "a": 1,
        "b": 2,
        "rest": [],
        "c": 3,
        "extra": {},
    }
    assert actorio.get(c.params.remote(1, 5, 6, 7, c=8, d=9), timeout=WAIT) == {
        "a": 1,
        "b": 5,
        "rest": [6, 7],
        "c": 8,
        "extra": {"d": 9},
    }
    assert actorio.get(c.add.remote(b=4, a=1), timeout=WAIT) == 5
    d = Counter.options(backend=backend).remote()  # every default
    assert actorio.get(d.increment.remote(), timeout=WAIT) == 1


def test_num_returns(backend: str) -> None:
    c = Counter.options(backend=backend).remote(3)
    a, b = c.pair.remote()  # num_returns=2 from @actorio.method
    assert actorio.get([a, b], timeout=WAIT) == [3, -3]
    x, y = c.split.options(num_returns=2).remote(2)
    assert actorio.get([x, y], timeout=WAIT) == [0, 1]
    refs = c.split.options(num_returns=3).remote(3)
    assert actorio.get(refs, timeout=WAIT) == [0, 1, 2]
    bad = c.split.options(num_returns=2).remote(3)
    for ref in bad:
        with pytest.raises(InvalidArgumentsError, match="num_returns=2 but returned 3 values"):
            actorio.get(ref, timeout=WAIT)
    assert c.record.options(num_returns=0).remote("silent") is None
    # FIFO: the num_returns=0 call has run by the time the next one does.
    assert actorio.get(c.record.remote("loud"), timeout=WAIT) == ["silent", "loud"]


# -- misuse is caught at the call site ----------------------------------------------------------


def test_direct_calls_say_to_use_remote() -> None:
    with pytest.raises(DirectCallError, match=r"Counter\.remote\(") as info:
        Counter()
    assert isinstance(info.value, TypeError)
    c = Counter.remote()
    with pytest.raises(DirectCallError, match=r"increment\.remote\("):
        c.increment()


def test_arguments_that_do_not_fit_fail_at_the_call_site(backend: str) -> None:
    c = Counter.options(backend=backend).remote(1)
    with pytest.raises(InvalidArgumentsError, match=r"Counter\.increment\(by: int = 1\)") as info:
        c.increment.remote(1, 2)  # type: ignore[call-arg]  # deliberately wrong: must raise
    assert isinstance(info.value, TypeError)
    assert "too many positional arguments" in str(info.value)
    with pytest.raises(InvalidArgumentsError, match="unexpected keyword argument 'stride'"):
        c.increment.remote(stride=2)  # type: ignore[call-arg]  # deliberately wrong
    with pytest.raises(InvalidArgumentsError, match="missing a required argument: 'a'"):
        c.params.remote()  # type: ignore[call-arg, misc]  # deliberately wrong
    with pytest.raises(InvalidArgumentsError, match=r"Counter\(start: int = 0, \*, step"):
        Counter.options(backend=backend).remote(1, 2, 3)  # type: ignore[call-arg]  # deliberately wrong
    with pytest.raises(InvalidArgumentsError, match="unexpected keyword argument 'begin'"):
        Counter.options(backend=backend).remote(begin=1)  # type: ignore[call-arg]  # deliberately wrong
    with pytest.raises(DirectCallError, match=r"increment\.remote\("):
        c.increment()
    # Nothing was queued by the failed calls.
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 2
    assert actorio.pending_calls(c) == 0


def test_unknown_method_lists_the_methods(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    with pytest.raises(ActorMethodNotFoundError, match="no method 'incremnt'") as info:
        c.incremnt.remote()  # type: ignore[attr-defined]  # deliberately misspelt
    assert isinstance(info.value, AttributeError)
    assert "'increment'" in str(info.value)
    assert "Counter" in str(info.value)
    assert not hasattr(c, "nope")
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1


# -- errors reach the caller; the actor lives on -------------------------------------------------


def test_method_error_through_get() -> None:
    c = Counter.remote(7)
    with pytest.raises(actorio.exceptions.RayTaskError) as info:
        actorio.get(c.fail.remote("sync boom"))
    assert isinstance(info.value, ValueError)
    assert actorio.get(c.get.remote()) == 7


def test_method_error_is_the_original_type_with_the_remote_traceback(backend: str) -> None:
    c = Counter.options(backend=backend).remote(10)
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 11
    with pytest.raises(ValueError, match="boom") as info:
        actorio.get(c.fail.remote("boom"), timeout=WAIT)
    err = info.value
    assert isinstance(err, TaskError)
    assert isinstance(err.cause, ValueError)
    text = str(err)
    assert "Counter.fail raised ValueError: boom" in text
    assert "Remote traceback:" in text
    assert "raise ValueError(message)" in text
    assert "in fail" in err.traceback_str
    # A user exception with its own constructor keeps its attributes.
    with pytest.raises(Boom) as custom:
        actorio.get(c.fail_custom.remote(7, "disk full"), timeout=WAIT)
    assert isinstance(custom.value, TaskError)
    assert isinstance(custom.value.cause, Boom)
    assert (custom.value.cause.code, custom.value.cause.detail) == (7, "disk full")
    assert custom.value.args == (7, "disk full")
    assert "raise Boom(code, detail)" in custom.value.traceback_str
    # ... from an async method too.
    k = Keys.options(backend=backend).remote()
    with pytest.raises(KeyError, match="async boom") as async_info:
        actorio.get(k.fail.remote("async boom"), timeout=WAIT)
    assert isinstance(async_info.value, TaskError)
    assert "Keys.fail" in str(async_info.value)
    # The actors live on, with their state.
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 12
    actorio.get(k.open.remote(1), timeout=WAIT)
    assert actorio.get(k.wait_open.remote(1), timeout=WAIT) == 1


def test_method_error_exposes_the_original_attributes(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    with pytest.raises(ValueError, match="tagged") as tagged:
        actorio.get(c.fail_tagged.remote("tagged", 7), timeout=WAIT)
    assert isinstance(tagged.value, TaskError)
    assert tagged.value.code == 7  # as Ray's RayTaskError does: err.code is the cause's
    with pytest.raises(AttributeError, match="'nothing'"):
        tagged.value.nothing  # an attribute neither error has


@pytest.mark.ray_differs(
    "Ray cannot unpickle an exception whose constructor takes other arguments than it passes "
    "on to Exception: the caller gets Ray's UnserializableException"
)
def test_method_error_with_its_own_constructor_keeps_its_attributes(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    with pytest.raises(Coded, match="disk full") as info:
        actorio.get(c.fail_coded.remote("disk full", 28), timeout=WAIT)
    err = info.value
    assert isinstance(err, TaskError)
    assert err.code == 28
    assert isinstance(err.cause, Coded)
    assert err.cause.code == 28
    assert "Counter.fail_coded raised Coded: disk full" in str(err)
    # The actor lives on: the error came back from a worker process intact.
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1


async def test_errors_reach_async_callers_too(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    async with asyncio.timeout(WAIT):
        with pytest.raises(ValueError, match="awaited boom") as info:
            await c.fail.remote("awaited boom")
        assert isinstance(info.value, TaskError)
        assert "raise ValueError(message)" in info.value.traceback_str
        assert await asyncio.gather(*(c.increment.remote() for _ in range(3))) == [1, 2, 3]


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


def test_constructor_error_in_the_message(backend: str, tmp_path: Path) -> None:
    broken = Flaky.options(backend=backend, max_restarts=0).remote(str(tmp_path / "t"), 9)
    with pytest.raises(ActorDiedError) as died:
        actorio.get(broken.which.remote(), timeout=WAIT)
    # On Ray, in Ray's words (its message carries the constructor's traceback).
    assert "ConnectionError" in str(died.value)
    assert "attempt 1 failed" in str(died.value)


def test_exit_actor_outside_an_actor() -> None:
    with pytest.raises(NotInActorError, match="inside an actor method"):
        actorio.exit_actor()


def test_kill_from_another_thread_while_busy() -> None:
    c = Counter.remote()
    refs = [c.increment.remote() for _ in range(1000)]
    killer = threading.Thread(target=actorio.kill, args=(c,))
    killer.start()
    killer.join(WAIT)
    outcomes: list[int | str] = []
    for ref in refs:
        try:
            outcomes.append(actorio.get(ref, timeout=WAIT))
        except ActorDiedError:
            outcomes.append("died")
    done = [o for o in outcomes if o != "died"]
    # Whatever ran, ran in order and before the kill; everything else failed, nothing hung.
    assert done == list(range(1, len(done) + 1))
    assert outcomes[len(done) :] == ["died"] * (1000 - len(done))


@pytest.mark.ray_differs(
    "a death Ray detects is described with Ray's own text (creation task, exit_actor)"
)
def test_calls_after_death_say_why(backend: str, tmp_path: Path) -> None:
    name = f"doomed-{backend}"
    killed = Counter.options(backend=backend, name=name).remote()
    assert actorio.get(killed.increment.remote(), timeout=WAIT) == 1
    actorio.kill(killed)
    with pytest.raises(ActorDiedError) as info:
        actorio.get(killed.increment.remote(), timeout=WAIT)
    message = str(info.value)
    assert "Counter" in message
    assert f"named '{name}' in namespace 'default'" in message
    assert "is dead: it was killed with actorio.kill()" in message

    exited = Counter.options(backend=backend).remote()
    with pytest.raises(ActorDiedError, match=r"it called actorio\.exit_actor\(\)"):
        actorio.get(exited.quit.remote(), timeout=WAIT)
    with pytest.raises(ActorDiedError, match=r"Counter .*exit_actor"):
        actorio.get(exited.get.remote(), timeout=WAIT)

    broken = Flaky.options(backend=backend, max_restarts=0).remote(str(tmp_path / "t"), 9)
    # What the constructor raised is in the message, not only in .cause.
    said = "is dead: its constructor raised ConnectionError: attempt 1 failed. Calls to it fail"
    with pytest.raises(ActorDiedError, match=said) as died:
        actorio.get(broken.which.remote(), timeout=WAIT)
    assert "create a new actor to continue" in str(died.value)
    assert isinstance(died.value.cause, ConnectionError)
    # Calls to a dead actor fail at once, never wait.
    start = time.monotonic()
    for h in (killed, exited, broken):
        with pytest.raises(ActorDiedError):
            actorio.get(h.__ray_ready__.remote(), timeout=WAIT)
    assert time.monotonic() - start < WAIT / 2


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


def test_handles_travel_into_actors_and_tasks(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    d = Counter.options(backend=backend).remote(100)
    relay = Relay.options(backend=backend).remote()
    other = Relay.options(backend=backend).remote()
    assert actorio.get(relay.bump_all.remote([c, d], 3), timeout=WAIT) == [3, 103]
    assert actorio.get(relay.through.remote(other, c), timeout=WAIT) == [4]
    task = bump_and_read.options(backend=backend)
    assert actorio.get(task.remote(c, 2), timeout=WAIT) == 6
    # A handle coming back is the same actor.
    back = actorio.get(relay.hand_back.remote(d), timeout=WAIT)
    assert back == d
    assert actorio.get(back.increment.remote(), timeout=WAIT) == 104


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
