"""actorio.util.ActorPool on every backend: Ray's blocking API and its async twins.

Per-value gates (a Gate actor that workers wait on) decide when each call may finish, so the
order results come back in is forced, never left to timing. All coordination lives in
actors, as worker processes see only pickled copies.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actorio
from actorio.exceptions import (
    ActorDiedError,
    ActorioError,
    ActorPoolError,
    BlockingCallOnLoopError,
    GetTimeoutError,
    InvalidArgumentsError,
    TaskError,
)
from actorio.util import ActorPool

WAIT = 30.0
SHORT = 0.2  # a timeout that must expire: the gate it waits on is closed

pytestmark = pytest.mark.timeout(180)


@actorio.remote
class Gate:
    """Per-key gates: ``wait(key)`` returns once ``open(key)`` was called."""

    def __init__(self) -> None:
        self.events: dict[int, asyncio.Event] = {}
        self.arrived = 0
        self.arrivals = asyncio.Event()

    async def wait(self, key: int) -> int:
        self.arrived += 1
        self.arrivals.set()
        await self.events.setdefault(key, asyncio.Event()).wait()
        return key

    async def open(self, *keys: int) -> None:
        for key in keys:
            self.events.setdefault(key, asyncio.Event()).set()

    async def until_arrived(self, count: int) -> int:
        """Returns once ``count`` calls have reached the gates in total."""
        while self.arrived < count:
            self.arrivals.clear()
            await self.arrivals.wait()
        return self.arrived


@actorio.remote
class Worker:
    def __init__(self, name: str, gate: actorio.ActorHandle[Gate] | None = None) -> None:
        self.name = name
        self.gate = gate

    async def work(self, v: int) -> int:
        if self.gate is not None:
            await self.gate.wait.remote(v)
        if v < 0:
            raise ValueError(f"negative: {v}")
        return v * 10

    async def named(self, v: int) -> str:
        if self.gate is not None:
            await self.gate.wait.remote(v)
        return f"{self.name}:{v}"


def work(a: Any, v: int) -> Any:
    return a.work.remote(v)


def named(a: Any, v: int) -> Any:
    return a.named.remote(v)


def make(backend: str, n: int, gated: bool = True) -> tuple[Any, ActorPool]:
    gate = Gate.options(backend=backend).remote() if gated else None
    workers = [Worker.options(backend=backend).remote(f"w{i}", gate) for i in range(n)]
    return gate, ActorPool(workers)


def test_map_returns_results_in_order(backend: str) -> None:
    _, pool = make(backend, 2, gated=False)
    assert list(pool.map(work, range(7))) == [0, 10, 20, 30, 40, 50, 60]
    assert sorted(pool.map_unordered(work, range(7))) == [0, 10, 20, 30, 40, 50, 60]
    assert not pool.has_next()
    assert pool.has_free()


def test_get_next_waits_for_the_head_even_when_later_results_are_ready(backend: str) -> None:
    gate, pool = make(backend, 3)
    for v in (1, 2, 3):
        pool.submit(work, v)
    actorio.get(gate.until_arrived.remote(3), timeout=WAIT)
    actorio.get(gate.open.remote(3, 2), timeout=WAIT)
    with pytest.raises(GetTimeoutError) as info:
        pool.get_next(timeout=SHORT)
    assert str(info.value) == (
        f"ActorPool.get_next() timed out after {SHORT} s waiting for result #0; the call "
        f"goes on: call again to keep waiting, or pass ignore_if_timedout=True to skip it"
    )
    assert isinstance(info.value, TimeoutError)
    actorio.get(gate.open.remote(1), timeout=WAIT)
    assert [pool.get_next(timeout=WAIT) for _ in range(3)] == [10, 20, 30]
    with pytest.raises(StopIteration, match="No more results to get"):
        pool.get_next()


def test_unordered_results_come_as_the_gates_open(backend: str) -> None:
    gate, pool = make(backend, 3)
    for v in (1, 2, 3):
        pool.submit(work, v)
    got = []
    for key in (2, 3, 1):
        actorio.get(gate.open.remote(key), timeout=WAIT)
        got.append(pool.get_next_unordered(timeout=WAIT))
    assert got == [20, 30, 10]
    with pytest.raises(StopIteration, match="No more results to get"):
        pool.get_next_unordered()
    # The same through map_unordered, with more values than actors.
    results = pool.map_unordered(work, [4, 5, 6, 7])
    for key, expected in ((6, 60), (4, 40), (7, 70), (5, 50)):
        actorio.get(gate.open.remote(key), timeout=WAIT)
        assert next(results) == expected
    assert list(results) == []


async def test_async_forms_suspend_and_let_the_loop_run(backend: str) -> None:
    gate, pool = make(backend, 2)

    async def open_after(arrivals: int, *keys: int) -> None:
        await gate.until_arrived.remote(arrivals)  # needs the loop while get_next_async waits
        await gate.open.remote(*keys)

    async with asyncio.timeout(WAIT):
        pool.submit(work, 1)
        value, _ = await asyncio.gather(pool.get_next_async(), open_after(1, 1))
        assert value == 10

        got = []
        results = pool.map_unordered_async(work, [2, 3, 4])
        opener = asyncio.ensure_future(open_after(2, 3))
        async for x in results:
            got.append(x)
            if len(got) == 1:
                await gate.open.remote(4)
            elif len(got) == 2:
                await gate.open.remote(2)
        await opener
        assert got == [30, 40, 20]

        await gate.open.remote(5, 6, 7)
        assert [x async for x in pool.map_async(work, [7, 5, 6])] == [70, 50, 60]
        with pytest.raises(StopAsyncIteration, match="No more results to get"):
            await pool.get_next_async()
        with pytest.raises(StopAsyncIteration, match="No more results to get"):
            await pool.get_next_unordered_async()


async def test_async_timeouts(backend: str) -> None:
    gate, pool = make(backend, 1)
    async with asyncio.timeout(WAIT):
        pool.submit(work, 1)
        with pytest.raises(GetTimeoutError, match=r"get_next_async\(\) timed out after 0.2 s"):
            await pool.get_next_async(timeout=SHORT)
        with pytest.raises(GetTimeoutError, match="with 1 result\\(s\\) pending"):
            await pool.get_next_unordered_async(timeout=SHORT)
        await gate.open.remote(1)
        assert await pool.get_next_unordered_async(timeout=WAIT) == 10


def test_sync_forms_refuse_to_block_a_running_loop(backend: str) -> None:
    _, pool = make(backend, 1, gated=False)

    async def misuse() -> list[str]:
        messages = []
        pool.submit(work, 1)
        for call in (
            lambda: pool.get_next(),
            lambda: pool.get_next_unordered(timeout=5),
            lambda: pool.map(work, [1]),
            lambda: pool.map_unordered(work, [1]),
        ):
            with pytest.raises(BlockingCallOnLoopError) as info:
                call()
            messages.append(str(info.value))
        assert await pool.get_next_async(timeout=WAIT) == 10
        return messages

    messages = actorio.run(misuse())
    assert "In async code use 'await pool.get_next_async()'" in messages[0]
    assert messages[0].startswith("ActorPool.get_next() would block the event loop")
    assert "'await pool.get_next_unordered_async()'" in messages[1]
    assert "'async for x in pool.map_async(fn, values)'" in messages[2]
    assert "'async for x in pool.map_unordered_async(fn, values)'" in messages[3]


def test_timeout_zero_is_a_poll_even_on_a_loop(backend: str) -> None:
    gate, pool = make(backend, 1)
    pool.submit(work, 1)

    async def poll() -> None:
        with pytest.raises(GetTimeoutError):
            pool.get_next(timeout=0)  # never blocks, so it is allowed here

    actorio.run(poll())
    actorio.get(gate.open.remote(1), timeout=WAIT)
    assert pool.get_next(timeout=WAIT) == 10


def test_ignore_if_timedout_skips_the_result_and_keeps_the_actor_busy(backend: str) -> None:
    gate, pool = make(backend, 1)
    pool.submit(work, 1)
    with pytest.raises(GetTimeoutError) as info:
        pool.get_next(timeout=SHORT, ignore_if_timedout=True)
    assert str(info.value) == (
        f"ActorPool.get_next() timed out after {SHORT} s waiting for result #0 and skipped "
        f"it (ignore_if_timedout=True): it will never be returned, and its actor rejoins "
        f"the pool when the call finishes"
    )
    assert not pool.has_next()
    assert not pool.has_free()  # its one actor still runs the skipped call
    assert pool.pop_idle() is None
    pool.submit(work, 2)  # waits for that actor
    actorio.get(gate.open.remote(2), timeout=WAIT)
    with pytest.raises(GetTimeoutError):
        pool.get_next(timeout=SHORT)  # 2 cannot start before 1 ends
    actorio.get(gate.open.remote(1), timeout=WAIT)
    assert pool.get_next(timeout=WAIT) == 20  # never 10: that one was skipped
    assert pool.has_free()


def test_unordered_ignore_skips_the_oldest(backend: str) -> None:
    gate, pool = make(backend, 2)
    pool.submit(work, 1)
    pool.submit(work, 2)
    with pytest.raises(GetTimeoutError, match=r"skipped the oldest, #0"):
        pool.get_next_unordered(timeout=SHORT, ignore_if_timedout=True)
    actorio.get(gate.open.remote(1, 2), timeout=WAIT)
    assert pool.get_next_unordered(timeout=WAIT) == 20
    assert not pool.has_next()


def test_an_error_reaches_the_consumer_at_its_item_and_the_pool_goes_on(backend: str) -> None:
    _, pool = make(backend, 2, gated=False)
    results = pool.map(work, [1, -2, 3, 4])
    assert next(results) == 10
    with pytest.raises(ValueError, match="negative: -2") as info:
        next(results)
    assert isinstance(info.value, TaskError)
    assert "Worker.work" in str(info.value)
    assert [pool.get_next(timeout=WAIT), pool.get_next(timeout=WAIT)] == [30, 40]
    # Both actors are idle again, and the pool still works.
    assert list(pool.map(work, [5, 6])) == [50, 60]
    assert [pool.pop_idle() is not None, pool.pop_idle() is not None] == [True, True]
    assert pool.pop_idle() is None


async def test_an_error_mid_map_async(backend: str) -> None:
    _, pool = make(backend, 2, gated=False)
    got = []

    async def consume() -> None:
        async for x in pool.map_async(work, [1, 2, -3, 4]):
            got.append(x)

    async with asyncio.timeout(WAIT):
        with pytest.raises(ValueError, match="negative: -3"):
            await consume()
        assert got == [10, 20]
        assert await pool.get_next_async() == 40
        assert [x async for x in pool.map_unordered_async(work, [7])] == [70]


def test_push_pop_idle_and_has_free(backend: str) -> None:
    gate, pool = make(backend, 2)
    assert pool.has_free()
    spare = pool.pop_idle()
    assert spare is not None
    pool.submit(named, 1)
    pool.submit(named, 2)  # the only actor is busy: this one waits
    assert not pool.has_free()
    assert pool.pop_idle() is None
    pool.push(spare)  # takes the waiting call at once
    with pytest.raises(ActorPoolError, match="already belongs to this ActorPool"):
        pool.push(spare)
    actorio.get(gate.until_arrived.remote(2), timeout=WAIT)  # both calls are running
    actorio.get(gate.open.remote(1, 2), timeout=WAIT)
    first, second = pool.get_next(timeout=WAIT), pool.get_next(timeout=WAIT)
    assert first.endswith(":1")
    assert second.endswith(":2")
    assert first.split(":")[0] != second.split(":")[0]
    assert pool.has_free()
    with pytest.raises(InvalidArgumentsError, match="holds actor handles"):
        pool.push("not an actor")  # type: ignore[arg-type]


def test_a_pool_without_actors_says_so(backend: str) -> None:
    _, pool = make(backend, 1, gated=False)
    actor = pool.pop_idle()
    pool.submit(work, 1)
    assert pool.has_next()
    with pytest.raises(ActorPoolError, match=r"wait for an actor, but the pool has none"):
        pool.get_next(timeout=WAIT)
    assert actor is not None
    pool.push(actor)
    assert pool.get_next(timeout=WAIT) == 10


def test_get_next_after_get_next_unordered_follows_rays_rule(backend: str) -> None:
    gate, pool = make(backend, 3)
    for v in (1, 2, 3):
        pool.submit(work, v)
    actorio.get(gate.open.remote(3), timeout=WAIT)
    assert pool.get_next_unordered(timeout=WAIT) == 30  # the last one submitted
    with pytest.raises(ActorPoolError) as info:
        pool.get_next(timeout=WAIT)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == (
        "get_next() cannot be used now: get_next_unordered() already returned a result "
        "submitted after the 2 still pending. Collect them with get_next_unordered(); "
        "get_next() works again once has_next() is False (or after map())"
    )
    actorio.get(gate.open.remote(1, 2), timeout=WAIT)
    assert sorted([pool.get_next_unordered(), pool.get_next_unordered()]) == [10, 20]
    actorio.get(gate.open.remote(4, 5), timeout=WAIT)
    pool.submit(work, 4)
    pool.submit(work, 5)
    assert [pool.get_next(timeout=WAIT), pool.get_next(timeout=WAIT)] == [40, 50]


def test_ordered_get_after_an_in_order_unordered_get_is_fine(backend: str) -> None:
    gate, pool = make(backend, 2)
    pool.submit(work, 1)
    pool.submit(work, 2)
    actorio.get(gate.open.remote(1), timeout=WAIT)
    assert pool.get_next_unordered(timeout=WAIT) == 10
    actorio.get(gate.open.remote(2), timeout=WAIT)
    assert pool.get_next(timeout=WAIT) == 20


def test_map_drops_results_nobody_collected(backend: str) -> None:
    gate, pool = make(backend, 2)
    pool.submit(work, 1)
    actorio.get(gate.open.remote(1, 2, 3), timeout=WAIT)
    assert list(pool.map(work, [2, 3])) == [20, 30]  # 10 is dropped, as Ray does


def test_a_dead_actor_leaves_the_pool(backend: str) -> None:
    _, pool = make(backend, 2, gated=False)
    doomed = pool.pop_idle()
    assert doomed is not None
    pool.push(doomed)
    actorio.kill(doomed)
    results = pool.map(work, [1, 2])  # the last pushed is the first picked
    with pytest.raises(ActorDiedError):
        next(results)
    assert pool.get_next(timeout=WAIT) == 20
    assert list(pool.map(work, [3, 4, 5])) == [30, 40, 50]  # all on the survivor
    assert pool.pop_idle() is not None
    assert pool.pop_idle() is None


def test_fn_must_return_a_ref_and_its_errors_reach_the_consumer(backend: str) -> None:
    _, pool = make(backend, 1, gated=False)
    pool.submit(lambda a, v: v, 1)
    pool.submit(lambda a, v: a.no_such_method.remote(v), 2)
    pool.submit(work, 3)
    with pytest.raises(InvalidArgumentsError, match="must return the ObjectRef of one call"):
        pool.get_next(timeout=WAIT)
    with pytest.raises(AttributeError, match="has no method 'no_such_method'"):
        pool.get_next(timeout=WAIT)
    assert pool.get_next(timeout=WAIT) == 30


def test_errors_are_actorio_errors() -> None:
    assert issubclass(ActorPoolError, ActorioError)
    assert issubclass(ActorPoolError, ValueError)
    with pytest.raises(InvalidArgumentsError, match="got int"):
        ActorPool([1])  # type: ignore[list-item]
    assert repr(ActorPool([])) == "ActorPool(idle=0, busy=0, queued=0, results_pending=0)"
