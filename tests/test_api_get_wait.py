"""actorio.get and actorio.wait: values, order, timeouts, argument checks, loop-thread guard."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _actors import WAIT as BACKEND_WAIT
from _actors import Keys

import actorio
from actorio.exceptions import (
    ActorioError,
    BlockingCallOnLoopError,
    GetTimeoutError,
    InvalidArgumentsError,
    TaskCancelledError,
    TaskError,
)

WAIT = 10.0


@actorio.remote
class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> int:
        self.count += 1
        return self.count


@actorio.remote(mode="threaded", max_concurrency=4)
class Gatekeeper:
    """Threaded: methods may block on a threading.Event without blocking any loop."""

    def hold(self, gate: threading.Event, value: Any) -> Any:
        assert gate.wait(WAIT), "gate was never released"
        return value


@actorio.remote
def blocked(gate: threading.Event, value: Any) -> Any:
    assert gate.wait(WAIT), "gate was never released"
    return value


@actorio.remote
def waits_then_returns(ev: threading.Event, value: Any) -> Any:
    assert ev.wait(WAIT), "event was never set"
    return value


@actorio.remote
def sets_then_returns(ev: threading.Event, value: Any) -> Any:
    ev.set()
    return value


@actorio.remote
def boom(message: str) -> None:
    raise ValueError(message)


@actorio.remote
def identity(x: Any) -> Any:
    return x


@actorio.remote
async def held(ev: asyncio.Event, value: Any) -> Any:
    await asyncio.wait_for(ev.wait(), WAIT)
    return value


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """A closed gate that is always opened at the end, so no worker stays blocked."""
    ev = threading.Event()
    yield ev
    ev.set()


def test_wait_and_get_timeouts(backend: str) -> None:
    keys = Keys.options(backend=backend).remote()
    keys.open.remote(1)
    keys.open.remote(3)
    refs = [keys.wait_open.remote(1), keys.wait_open.remote(2), keys.wait_open.remote(3)]
    ready, not_ready = actorio.wait(refs, num_returns=2, timeout=BACKEND_WAIT)
    assert ready == [refs[0], refs[2]]  # both lists keep the input order
    assert not_ready == [refs[1]]
    ready, not_ready = actorio.wait(refs, num_returns=3, timeout=0.2)  # returns what is ready
    assert (ready, not_ready) == ([refs[0], refs[2]], [refs[1]])
    ready, not_ready = actorio.wait(refs, timeout=BACKEND_WAIT)  # num_returns=1 by default
    assert (ready, not_ready) == ([refs[0]], [refs[1], refs[2]])
    with pytest.raises(GetTimeoutError, match=r"timed out after 0\.2 s") as info:
        actorio.get(refs[1], timeout=0.2)
    assert isinstance(info.value, TimeoutError)
    with pytest.raises(GetTimeoutError, match="1 result"):
        actorio.get(refs, timeout=0.1)
    keys.open.remote(2)
    # The call went on after the timeouts.
    ready, not_ready = actorio.wait(refs, num_returns=3, timeout=BACKEND_WAIT)
    assert (ready, not_ready) == (refs, [])
    assert actorio.get(refs, timeout=BACKEND_WAIT) == [1, 2, 3]


# -- get ---------------------------------------------------------------------------------------


def test_get_single_ref() -> None:
    c = Counter.remote()
    assert actorio.get(c.increment.remote()) == 1
    assert actorio.get(identity.remote("x"), timeout=WAIT) == "x"


def test_get_list_keeps_input_order() -> None:
    ev = threading.Event()
    # 'first' can only finish after 'second' set the event: completion order is reversed.
    first = waits_then_returns.remote(ev, "first")
    second = sets_then_returns.remote(ev, "second")
    c = Counter.remote()
    refs = [first, second, c.increment.remote(), actorio.put("put")]
    assert actorio.get(refs, timeout=WAIT) == ["first", "second", 1, "put"]


def test_get_tuple_and_empty_list() -> None:
    assert actorio.get((actorio.put(1), actorio.put(2))) == [1, 2]
    assert actorio.get([]) == []


def test_get_reraises_task_error_of_original_type() -> None:
    with pytest.raises(ValueError, match="get me") as info:
        actorio.get(boom.remote("get me"), timeout=WAIT)
    assert isinstance(info.value, TaskError)


def test_get_list_with_a_failed_ref_raises() -> None:
    refs = [identity.remote(1), boom.remote("second one failed")]
    with pytest.raises(ValueError, match="second one failed"):
        actorio.get(refs, timeout=WAIT)


def test_get_timeout_threaded_actor(gate: threading.Event) -> None:
    g = Gatekeeper.remote()
    ref = g.hold.remote(gate, "eventually")
    with pytest.raises(GetTimeoutError) as info:
        actorio.get(ref, timeout=0.05)
    err = info.value
    assert isinstance(err, TimeoutError)
    assert isinstance(err, ActorioError)
    assert "timed out" in str(err)
    assert "0.05" in str(err)
    assert "1 result(s) still pending" in str(err)
    # The call goes on: once released, the same ref gives its value.
    gate.set()
    assert actorio.get(ref, timeout=WAIT) == "eventually"


def test_get_timeout_def_task_is_caught_as_builtin_timeout(gate: threading.Event) -> None:
    ref = blocked.remote(gate, 3)
    with pytest.raises(TimeoutError, match="timed out"):
        actorio.get([actorio.put(1), ref], timeout=0.05)
    gate.set()
    assert actorio.get([actorio.put(1), ref], timeout=WAIT) == [1, 3]


def test_get_timeout_zero_on_pending_ref(gate: threading.Event) -> None:
    ref = blocked.remote(gate, 0)
    with pytest.raises(GetTimeoutError):
        actorio.get(ref, timeout=0)


async def test_get_on_event_loop_thread_refuses() -> None:
    c = Counter.remote()
    ref = c.increment.remote()
    with pytest.raises(BlockingCallOnLoopError) as info:
        actorio.get(ref)
    err = info.value
    assert isinstance(err, RuntimeError)
    assert "actorio.get()" in str(err)
    assert "await" in str(err)
    # Refused before anything happened: the ref is still usable here.
    assert await ref == 1


async def test_get_on_event_loop_thread_returns_refs_that_are_done() -> None:
    # As on Ray: nothing blocks, so nothing is refused (async code awaits, then gets).
    assert actorio.get(actorio.put(1), timeout=5) == 1
    assert actorio.get([actorio.put(1), actorio.put(2)]) == [1, 2]
    ref = Counter.remote().increment.remote()
    await ref
    assert actorio.get(ref) == 1


async def test_get_on_event_loop_thread_refuses_when_it_would_block() -> None:
    ev = asyncio.Event()
    ref = held.remote(ev, "x")
    with pytest.raises(BlockingCallOnLoopError, match="await"):
        actorio.get([actorio.put(1), ref], timeout=5)
    with pytest.raises(BlockingCallOnLoopError, match="placement='thread'"):
        actorio.get(ref)
    ev.set()
    assert await asyncio.wait_for(ref, WAIT) == "x"


async def test_get_timeout_zero_on_event_loop_thread_is_allowed() -> None:
    assert actorio.get(actorio.put(5), timeout=0) == 5
    assert actorio.get([actorio.put(1), actorio.put(2)], timeout=0) == [1, 2]
    c = Counter.remote()
    ref = c.increment.remote()
    await ref
    assert actorio.get(ref, timeout=0) == 1


async def test_get_timeout_zero_on_event_loop_thread_pending_ref_times_out() -> None:
    ev = asyncio.Event()
    ref = held.remote(ev, "x")
    with pytest.raises(GetTimeoutError):
        actorio.get(ref, timeout=0)
    ev.set()
    assert await asyncio.wait_for(ref, WAIT) == "x"


async def test_get_of_cancelled_ref_raises_task_cancelled() -> None:
    ev = asyncio.Event()
    ref = held.remote(ev, "x")
    ref.cancel()
    with pytest.raises(TaskCancelledError):
        actorio.get(ref, timeout=0)
    ev.set()


@pytest.mark.parametrize("bad", [5, "ref", None, {"a": 1}, object()])
def test_get_of_non_ref_raises_invalid_arguments(bad: Any) -> None:
    with pytest.raises(InvalidArgumentsError) as info:
        actorio.get(bad)
    assert isinstance(info.value, TypeError)
    assert type(bad).__name__ in str(info.value)


def test_get_of_list_with_non_ref_raises_invalid_arguments() -> None:
    with pytest.raises(InvalidArgumentsError, match="got int") as info:
        actorio.get([actorio.put(1), 2])  # type: ignore[arg-type]  # deliberately not a ref
    assert isinstance(info.value, TypeError)


async def test_get_of_non_ref_on_loop_thread_is_an_argument_error_first() -> None:
    with pytest.raises(InvalidArgumentsError):
        actorio.get(42)  # type: ignore[call-overload]  # deliberately not a ref


# -- wait ----------------------------------------------------------------------------------------


def test_wait_default_returns_one_ready(gate: threading.Event) -> None:
    slow = blocked.remote(gate, "slow")
    fast = actorio.put("fast")
    ready, not_ready = actorio.wait([slow, fast], timeout=WAIT)
    assert ready == [fast]
    assert not_ready == [slow]
    assert ready[0] is fast
    assert not_ready[0] is slow


def test_wait_lists_keep_input_order(gate: threading.Event) -> None:
    a = blocked.remote(gate, "a")
    b = actorio.put("b")
    c = blocked.remote(gate, "c")
    d = identity.remote("d")
    refs = [a, b, c, d]
    ready, not_ready = actorio.wait(refs, num_returns=2, timeout=WAIT)
    assert ready == [b, d]
    assert not_ready == [a, c]
    gate.set()
    ready, not_ready = actorio.wait(refs, num_returns=4, timeout=WAIT)
    assert ready == refs
    assert not_ready == []
    assert actorio.get(refs) == ["a", "b", "c", "d"]


def test_wait_returns_at_most_num_returns_ready() -> None:
    refs = [actorio.put(i) for i in range(4)]
    ready, not_ready = actorio.wait(refs, num_returns=2)
    assert ready == refs[:2]
    assert not_ready == refs[2:]


def test_wait_timeout_returns_what_is_ready(gate: threading.Event) -> None:
    slow = blocked.remote(gate, "slow")
    fast = actorio.put("fast")
    ready, not_ready = actorio.wait([slow, fast], num_returns=2, timeout=0.05)
    assert ready == [fast]
    assert not_ready == [slow]
    ready, not_ready = actorio.wait([slow], timeout=0.05)
    assert ready == []
    assert not_ready == [slow]


def test_wait_without_timeout_blocks_until_num_returns(gate: threading.Event) -> None:
    g = Gatekeeper.remote()
    slow = g.hold.remote(gate, 1)
    other = g.hold.remote(gate, 2)
    releaser = threading.Timer(0.0, gate.set)  # releases from another thread, no sleeping here
    releaser.start()
    try:
        ready, not_ready = actorio.wait([slow, other], num_returns=2)
    finally:
        releaser.join(WAIT)
    assert ready == [slow, other]
    assert not_ready == []


def test_wait_counts_failed_refs_as_ready(gate: threading.Event) -> None:
    slow = blocked.remote(gate, "slow")
    bad = boom.remote("ready but failed")
    ready, not_ready = actorio.wait([slow, bad], timeout=WAIT)
    assert ready == [bad]
    assert not_ready == [slow]


def test_wait_empty_list() -> None:
    # As in Ray: nothing to wait for is not an error, whatever num_returns defaults to.
    assert actorio.wait([]) == ([], [])
    assert actorio.wait([], timeout=0) == ([], [])


@pytest.mark.parametrize("num_returns", [-1, 3, 10])
def test_wait_num_returns_out_of_range_raises(num_returns: int) -> None:
    refs = [actorio.put(1), actorio.put(2)]
    with pytest.raises(InvalidArgumentsError) as info:
        actorio.wait(refs, num_returns=num_returns)
    assert "num_returns" in str(info.value)
    assert str(num_returns) in str(info.value)


def test_wait_rejects_non_refs_and_duplicates() -> None:
    ref = actorio.put(1)
    with pytest.raises(InvalidArgumentsError, match="got int"):
        actorio.wait([ref, 2])  # type: ignore[list-item]  # deliberately not a ref
    with pytest.raises(InvalidArgumentsError, match="twice"):
        actorio.wait([ref, ref])


def test_wait_on_a_single_ref_says_to_pass_a_list() -> None:
    ref = actorio.put(1)
    with pytest.raises(InvalidArgumentsError, match=r"got a single ObjectRef; pass \[ref\]"):
        actorio.wait(ref)  # type: ignore[arg-type]  # Ray's misuse: one ref, not a list
    assert actorio.wait([ref]) == ([ref], [])


async def test_wait_on_event_loop_thread_refuses_when_it_would_block() -> None:
    done = actorio.put(1)
    ev = asyncio.Event()
    pending = held.remote(ev, "x")
    assert actorio.wait([done, pending]) == ([done], [pending])  # one is ready: no wait
    with pytest.raises(BlockingCallOnLoopError) as info:
        actorio.wait([done, pending], num_returns=2)
    assert isinstance(info.value, RuntimeError)
    assert "actorio.wait()" in str(info.value)
    assert "await" in str(info.value)
    with pytest.raises(BlockingCallOnLoopError):
        actorio.wait([pending], timeout=1)
    ev.set()
    assert await asyncio.wait_for(pending, WAIT) == "x"


async def test_wait_timeout_zero_on_event_loop_thread_is_allowed() -> None:
    ev = asyncio.Event()
    pending = held.remote(ev, "later")
    done = actorio.put("now")
    ready, not_ready = actorio.wait([pending, done], timeout=0)
    assert ready == [done]
    assert not_ready == [pending]
    ready, not_ready = actorio.wait([pending, done], num_returns=2, timeout=0)
    assert ready == [done]
    assert not_ready == [pending]
    ev.set()
    assert await asyncio.wait_for(pending, WAIT) == "later"
    ready, not_ready = actorio.wait([pending, done], num_returns=2, timeout=0)
    assert ready == [pending, done]
    assert not_ready == []
