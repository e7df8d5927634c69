"""ObjectRef: awaiting, asyncio interop, ``future()``, foreign loops, ``put`` and ref arguments."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
from typing import Any

import pytest
from _actors import WAIT as BACKEND_WAIT
from _actors import Counter, Keys, resolved

import actorio
from actorio import ObjectRef
from actorio.exceptions import ActorDiedError, TaskError

WAIT = 10.0  # generous bound for anything that should happen "soon"


# -- remote code used by the tests ------------------------------------------------------------


@actorio.remote
class Summer:
    def __init__(self) -> None:
        self.total = 0
        self.seen: list[Any] = []

    def add(self, x: int = 0, *, extra: int = 0) -> int:
        self.seen.append((type(x).__name__, type(extra).__name__))
        self.total += x + extra
        return self.total

    def get_total(self) -> int:
        return self.total

    def get_seen(self) -> list[Any]:
        return list(self.seen)

    def echo(self, value: Any) -> Any:
        return value


@actorio.remote(mode="threaded")
class Worker:
    """One call at a time, on a worker thread: may block on a threading.Event."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def block(self, gate: threading.Event) -> str:
        assert gate.wait(WAIT), "gate was never released"
        self.log.append("block")
        return "unblocked"

    def record(self, item: str) -> str:
        self.log.append(item)
        return item

    def get_log(self) -> list[str]:
        return list(self.log)


@actorio.remote
async def held(ev: asyncio.Event, value: Any) -> Any:
    """Finishes only once ``ev`` is set (runs on the caller's loop)."""
    await asyncio.wait_for(ev.wait(), WAIT)
    return value


@actorio.remote
async def release(ev: asyncio.Event, value: Any) -> Any:
    ev.set()
    return value


@actorio.remote
def blocked(gate: threading.Event, value: Any) -> Any:
    """Finishes only once ``gate`` is set (runs on a worker thread)."""
    assert gate.wait(WAIT), "gate was never released"
    return value


@actorio.remote
def boom(message: str) -> None:
    raise ValueError(message)


@actorio.remote
def blocked_boom(gate: threading.Event, message: str) -> None:
    assert gate.wait(WAIT), "gate was never released"
    raise ValueError(message)


@actorio.remote
def plus_one_sync(x: int) -> int:
    return x + 1


@actorio.remote
async def plus_one_async(x: int) -> int:
    return x + 1


@actorio.remote
def kinds_sync(x: Any, *, y: Any = None) -> tuple[str, str]:
    return type(x).__name__, type(y).__name__


@actorio.remote
async def kinds_async(x: Any, *, y: Any = None) -> tuple[str, str]:
    return type(x).__name__, type(y).__name__


@actorio.remote
def nested_kinds(items: list[Any]) -> list[bool]:
    return [isinstance(i, ObjectRef) for i in items]


async def _read(ref: Any) -> Any:
    return await ref


# -- awaiting on the caller's loop ---------------------------------------------------------------


async def test_await_ref_on_its_own_loop() -> None:
    c = Summer.remote()
    ref = c.add.remote(2)
    assert isinstance(ref, ObjectRef)
    assert isinstance(ref, asyncio.Future)
    assert ref.get_loop() is asyncio.get_running_loop()
    assert await ref == 2
    assert await c.add.remote(3) == 5
    # A done ref can be awaited again and gives the same value.
    assert await ref == 2


async def test_await_failed_ref_raises_task_error_of_original_type() -> None:
    ref = boom.remote("nope")
    with pytest.raises(ValueError, match="nope") as info:
        await ref
    assert isinstance(info.value, TaskError)


async def test_asyncio_wait_returns_the_ref_objects() -> None:
    ev = asyncio.Event()
    c = Summer.remote()
    quick = c.add.remote(1)
    slow = held.remote(ev, "late")
    done, pending = await asyncio.wait(
        [quick, slow], timeout=WAIT, return_when=asyncio.FIRST_COMPLETED
    )
    assert done == {quick}
    assert pending == {slow}
    assert next(iter(done)) is quick
    assert next(iter(pending)) is slow
    ev.set()
    done, pending = await asyncio.wait([quick, slow], timeout=WAIT)
    assert pending == set()
    assert done == {quick, slow}
    assert all(isinstance(r, ObjectRef) for r in done)
    assert quick.result() == 1
    assert slow.result() == "late"


async def test_asyncio_gather_keeps_argument_order() -> None:
    ev = asyncio.Event()
    # 'first' can only finish after 'second' has released it: completion order is reversed.
    first = held.remote(ev, "first")
    second = release.remote(ev, "second")
    c = Summer.remote()
    assert list(await asyncio.gather(first, second, c.add.remote(4))) == ["first", "second", 4]


async def test_asyncio_gather_return_exceptions() -> None:
    c = Summer.remote()
    results = await asyncio.gather(c.add.remote(1), boom.remote("gathered"), return_exceptions=True)
    assert results[0] == 1
    err = results[1]
    assert isinstance(err, ValueError)
    assert isinstance(err, TaskError)
    assert "gathered" in str(err)


async def test_asyncio_wait_for_value_and_timeout() -> None:
    c = Summer.remote()
    assert await asyncio.wait_for(c.add.remote(7), WAIT) == 7

    ev = asyncio.Event()
    slow = held.remote(ev, "never read")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slow, 0.01)
    assert slow.cancelled()  # wait_for cancels what it waited for, as with any future
    ev.set()


async def test_cancelled_ref_skips_a_call_that_has_not_started() -> None:
    gate = threading.Event()
    w = Worker.remote()
    try:
        first = w.block.remote(gate)
        queued = w.record.remote("should not run")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(queued, 0.01)
        assert queued.cancelled()
    finally:
        gate.set()
    assert await asyncio.wait_for(first, WAIT) == "unblocked"
    assert await asyncio.wait_for(w.get_log.remote(), WAIT) == ["block"]


async def test_asyncio_timeout_context() -> None:
    c = Summer.remote()
    async with asyncio.timeout(WAIT):
        assert await c.add.remote(5) == 5

    ev = asyncio.Event()
    slow = held.remote(ev, "late")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await slow
    ev.set()
    # The ref itself was awaited, so the timeout cancelled it.
    assert slow.cancelled()


async def test_task_group_collects_values() -> None:
    c = Summer.remote()
    async with asyncio.TaskGroup() as tg:
        t1 = tg.create_task(_read(c.add.remote(1)))
        t2 = tg.create_task(_read(c.add.remote(10)))
        t3 = tg.create_task(_read(plus_one_async.remote(41)))
    assert (t1.result(), t2.result(), t3.result()) == (1, 11, 42)


async def test_task_group_propagates_task_error() -> None:
    with pytest.raises(ExceptionGroup) as info:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_read(boom.remote("inside group")))
    errors = info.value.exceptions
    assert len(errors) == 1
    assert isinstance(errors[0], ValueError)
    assert isinstance(errors[0], TaskError)
    assert "inside group" in str(errors[0])


# -- ref.future() ----------------------------------------------------------------------------------


def test_future_returns_concurrent_future_with_value() -> None:
    c = Summer.remote()
    ref = c.add.remote(3)
    cf = ref.future()
    assert isinstance(cf, concurrent.futures.Future)
    assert cf.result(timeout=WAIT) == 3


def test_future_of_pending_ref_completes_later() -> None:
    gate = threading.Event()
    try:
        ref = blocked.remote(gate, "later")
        cf = ref.future()
        assert not cf.done()  # cannot be done: the gate is closed
    finally:
        gate.set()
    assert cf.result(timeout=WAIT) == "later"


def test_future_of_failed_ref_carries_the_error() -> None:
    cf = boom.remote("via future").future()
    err = cf.exception(timeout=WAIT)
    assert isinstance(err, ValueError)
    assert isinstance(err, TaskError)
    assert "via future" in str(err)


def test_future_of_done_ref_is_done_at_once() -> None:
    cf = actorio.put("ready").future()
    assert cf.done()
    assert cf.result(timeout=0) == "ready"


async def test_future_of_ref_on_running_loop() -> None:
    ev = asyncio.Event()
    ref = held.remote(ev, 99)
    cf = ref.future()
    assert isinstance(cf, concurrent.futures.Future)
    assert not cf.done()
    ev.set()
    assert await asyncio.wait_for(asyncio.wrap_future(cf), WAIT) == 99


# -- refs that belong to another loop --------------------------------------------------------------


def _sync_counter_ref() -> tuple[Any, Any]:
    c = Summer.remote()
    return c, c.add.remote(21)


async def test_await_ref_from_another_loop() -> None:
    # Created in a plain thread: the actor and the ref live on actorio's runtime loop.
    handle, ref = await asyncio.to_thread(_sync_counter_ref)
    assert isinstance(ref, ObjectRef)
    assert ref._loop is not asyncio.get_running_loop()  # a foreign ref
    async with asyncio.timeout(WAIT):
        assert await ref == 21
        # The handle made in that thread works from this loop, too.
        assert await handle.add.remote(1) == 22


async def test_await_pending_ref_from_another_loop() -> None:
    gate = threading.Event()
    try:
        ref = await asyncio.to_thread(blocked.remote, gate, "foreign")
        assert ref._loop is not asyncio.get_running_loop()  # a foreign ref
        assert not ref.done()
        waiter = asyncio.create_task(_read(ref))
        await asyncio.sleep(0)  # let the waiter start awaiting the pending ref (not a sync)
    finally:
        gate.set()
    assert await asyncio.wait_for(waiter, WAIT) == "foreign"


async def test_await_failed_ref_from_another_loop() -> None:
    ref = await asyncio.to_thread(boom.remote, "far away")
    assert ref._loop is not asyncio.get_running_loop()  # a foreign ref
    with pytest.raises(ValueError, match="far away") as info:
        async with asyncio.timeout(WAIT):
            await ref
    assert isinstance(info.value, TaskError)


async def test_foreign_ref_in_task_group_and_timeout() -> None:
    ref = await asyncio.to_thread(actorio.put, "shared")
    assert ref._loop is not asyncio.get_running_loop()  # a foreign ref
    async with asyncio.timeout(WAIT), asyncio.TaskGroup() as tg:
        task = tg.create_task(_read(ref))
    assert task.result() == "shared"


async def test_asyncio_wait_on_ref_from_another_loop() -> None:
    ref = await asyncio.to_thread(actorio.put, "done elsewhere")
    assert ref.done()
    assert ref._loop is not asyncio.get_running_loop()  # a foreign ref
    try:
        async with asyncio.timeout(WAIT):
            done, pending = await asyncio.wait([ref])
    except TimeoutError:
        pytest.fail("asyncio.wait() on an already-done ref from another loop never returned")
    assert done == {ref}
    assert pending == set()


# -- put ---------------------------------------------------------------------------------------


def test_put_returns_ready_ref_with_the_same_object() -> None:
    obj = {"payload": [1, 2, 3]}
    ref = actorio.put(obj)
    assert isinstance(ref, ObjectRef)
    assert ref.done()
    assert actorio.get(ref) is obj
    assert actorio.get(actorio.put(None)) is None


def test_put_of_an_exception_is_a_value_not_an_error() -> None:
    exc = ValueError("just data")
    assert actorio.get(actorio.put(exc)) is exc


async def test_put_in_async_code_is_on_running_loop() -> None:
    obj = object()
    ref = actorio.put(obj)
    assert ref.done()
    assert ref.get_loop() is asyncio.get_running_loop()
    assert await ref is obj


async def test_put_ref_passed_to_actor_is_not_copied() -> None:
    obj = ["mutable"]
    c = Summer.remote()
    assert await c.echo.remote(actorio.put(obj)) is obj


# -- refs as arguments -----------------------------------------------------------------------------


async def test_ready_ref_arguments_to_actor_method_are_resolved() -> None:
    c = Summer.remote()
    total = await c.add.remote(resolved(actorio.put(2)), extra=resolved(actorio.put(3)))
    assert total == 5
    assert await c.get_seen.remote() == [("int", "int")]


async def test_ref_of_running_call_as_actor_argument_asyncio_event() -> None:
    ev = asyncio.Event()
    c = Summer.remote()
    upstream = held.remote(ev, 20)
    dependent = c.add.remote(resolved(upstream))
    after = c.get_total.remote()  # queued behind the parked call: must see its effect
    assert not dependent.done()
    ev.set()
    async with asyncio.timeout(WAIT):
        assert await dependent == 20
        assert await after == 20
    assert await c.get_seen.remote() == [("int", "int")]


def test_ref_of_running_call_as_actor_argument_threading_event() -> None:
    gate = threading.Event()
    c = Summer.remote()
    try:
        upstream = blocked.remote(gate, 7)
        dependent = c.add.remote(resolved(upstream))
        after = c.get_total.remote()
        ready, not_ready = actorio.wait([dependent], timeout=0)
        assert ready == []
        assert not_ready == [dependent]
    finally:
        gate.set()
    assert actorio.get(dependent, timeout=WAIT) == 7
    assert actorio.get(after, timeout=WAIT) == 7


async def test_loop_ref_read_from_another_loop_through_future() -> None:
    # A ref made on a loop is awaited there (asyncio's own await, no per-call detour);
    # another loop reads it through ref.future(), as it would any thread-safe future.
    c = Summer.remote()
    ref = c.add.remote(5)
    assert type(ref) is ObjectRef

    def other_loop() -> int:
        async def read() -> int:
            return await asyncio.wrap_future(ref.future())

        return asyncio.run(read())

    assert await asyncio.wait_for(asyncio.to_thread(other_loop), WAIT) == 5


async def test_foreign_pending_ref_as_actor_argument() -> None:
    gate = threading.Event()
    c = Summer.remote()
    try:
        upstream = await asyncio.to_thread(blocked.remote, gate, 5)
        assert upstream._loop is not asyncio.get_running_loop()
        dependent = c.add.remote(resolved(upstream))
    finally:
        gate.set()
    assert await asyncio.wait_for(dependent, WAIT) == 5


@pytest.mark.parametrize("consumer", [kinds_sync, kinds_async], ids=["def", "async_def"])
async def test_ready_ref_arguments_to_remote_function_are_resolved(consumer: Any) -> None:
    got = await asyncio.wait_for(consumer.remote(actorio.put(1), y=actorio.put("s")), WAIT)
    assert tuple(got) == ("int", "str")


@pytest.mark.parametrize("consumer", [plus_one_sync, plus_one_async], ids=["def", "async_def"])
async def test_ref_of_running_call_as_function_argument_asyncio_event(consumer: Any) -> None:
    ev = asyncio.Event()
    upstream = held.remote(ev, 9)
    dependent = consumer.remote(upstream)
    assert not dependent.done()
    ev.set()
    assert await asyncio.wait_for(dependent, WAIT) == 10


@pytest.mark.parametrize("consumer", [plus_one_sync, plus_one_async], ids=["def", "async_def"])
def test_ref_of_running_call_as_function_argument_threading_event(consumer: Any) -> None:
    gate = threading.Event()
    try:
        upstream = blocked.remote(gate, 100)
        dependent = consumer.remote(upstream)
        assert actorio.wait([dependent], timeout=0) == ([], [dependent])
    finally:
        gate.set()
    assert actorio.get(dependent, timeout=WAIT) == 101


def test_ref_arguments_are_resolved_in_order(backend: str) -> None:
    a = Counter.options(backend=backend).remote(10)
    b = Counter.options(backend=backend).remote()
    assert actorio.get(b.add.remote(resolved(a.increment.remote()), 5), timeout=BACKEND_WAIT) == 16
    assert (
        actorio.get(
            b.add.remote(a=resolved(a.get.remote()), b=resolved(a.increment.remote(2))),
            timeout=BACKEND_WAIT,
        )
        == 24
    )
    # A ref still pending: calls made after it wait behind it, keeping the order.
    keys = Keys.options(backend=backend).remote()
    later = keys.wait_open.remote(7)
    first = b.record.remote(later)
    second = b.record.remote("after")
    ready, not_ready = actorio.wait([first, second], num_returns=1, timeout=0.2)
    assert (ready, not_ready) == ([], [first, second])
    keys.open.remote(7)
    assert actorio.get([first, second], timeout=BACKEND_WAIT) == [[7], [7, "after"]]
    # A failed ref fails the call with the same error; the actor lives on.
    failing = b.add.remote(a.fail.remote("bad ref"), 1)  # type: ignore[arg-type]  # never a value
    with pytest.raises(ValueError, match="bad ref") as info:
        actorio.get(failing, timeout=BACKEND_WAIT)
    assert isinstance(info.value, TaskError)
    assert actorio.get(b.add.remote(1, 1), timeout=BACKEND_WAIT) == 2


def test_nested_refs_are_passed_as_refs() -> None:
    ref = actorio.put(1)
    assert actorio.get(nested_kinds.remote([ref, 2]), timeout=WAIT) == [True, False]


def test_failed_ref_argument_fails_actor_call_with_upstream_error() -> None:
    c = Summer.remote()
    upstream = boom.remote("upstream broke")
    dependent = c.add.remote(upstream)  # type: ignore[arg-type]  # a failing ref: never a value
    with pytest.raises(ValueError, match="upstream broke") as info:
        actorio.get(dependent, timeout=WAIT)
    assert isinstance(info.value, TaskError)
    # As Ray: the call's own error, saying it could not run, around the upstream one.
    assert info.value.function_name == "Summer.add"
    assert "Summer.add did not run: an input argument could not be computed" in str(info.value)
    assert isinstance(info.value.cause, TaskError)
    assert "boom" in info.value.cause.function_name
    # The method never ran, and the actor still works afterwards.
    assert actorio.get(c.get_seen.remote(), timeout=WAIT) == []
    assert actorio.get(c.add.remote(1), timeout=WAIT) == 1


def test_pending_then_failed_ref_argument_fails_actor_call() -> None:
    gate = threading.Event()
    c = Summer.remote()
    try:
        upstream = blocked_boom.remote(gate, "failed later")
        dependent = c.add.remote(upstream)  # type: ignore[arg-type]  # a failing ref: never a value
        after = c.add.remote(2)
    finally:
        gate.set()
    with pytest.raises(ValueError, match="failed later") as info:
        actorio.get(dependent, timeout=WAIT)
    assert isinstance(info.value, TaskError)
    assert actorio.get(after, timeout=WAIT) == 2


@pytest.mark.parametrize("consumer", [plus_one_sync, plus_one_async], ids=["def", "async_def"])
async def test_failed_ref_argument_fails_remote_function(consumer: Any) -> None:
    upstream = boom.remote("bad input upstream")
    dependent = consumer.remote(upstream)
    with pytest.raises(ValueError, match="bad input upstream") as info:
        await asyncio.wait_for(dependent, WAIT)
    assert isinstance(info.value, TaskError)
    assert info.value.function_name.endswith(consumer.__name__)
    assert "an input argument could not be computed" in str(info.value)
    assert isinstance(info.value.cause, TaskError)
    assert "boom" in info.value.cause.function_name


@actorio.remote
def missing_key(key: str) -> None:
    raise KeyError(key)


def test_failed_ref_argument_says_an_input_could_not_be_computed(backend: str) -> None:
    upstream: ObjectRef[Any] = missing_key.options(backend=backend).remote("no-such-key")
    c = Counter.options(backend=backend).remote()
    dependents = {
        "actor call": c.add.remote(resolved(upstream)),
        "task": plus_one_sync.options(backend=backend).remote(resolved(upstream)),
    }
    for what, dependent in dependents.items():
        with pytest.raises(KeyError, match="no-such-key") as info:  # still the original type
            actorio.get(dependent, timeout=BACKEND_WAIT)
        assert isinstance(info.value, TaskError), what
        # Ray's own words on Ray: "At least one of the input arguments ... could not be computed"
        assert re.search(r"input arguments?\b.* could not be computed", str(info.value)), what
    assert actorio.get(c.add.remote(1), timeout=BACKEND_WAIT) == 1  # the actor lives on


def test_failed_ref_argument_of_a_constructor_kills_the_actor(backend: str) -> None:
    upstream: ObjectRef[Any] = missing_key.options(backend=backend).remote("no-such-key")
    actorio.wait([upstream], timeout=BACKEND_WAIT)  # failed already, or about to
    c = Counter.options(backend=backend).remote(resolved(upstream))  # never raises here
    with pytest.raises(ActorDiedError) as info:
        actorio.get(c.get.remote(), timeout=BACKEND_WAIT)
    assert re.search(r"input arguments?\b.* could not be computed", str(info.value))
    assert "no-such-key" in str(info.value)


def test_ref_arguments_of_a_task_are_resolved_first(backend: str) -> None:
    done = plus_one_sync.options(backend=backend).remote(1)
    actorio.get(done, timeout=BACKEND_WAIT)
    later = plus_one_sync.options(backend=backend).remote(10)  # maybe still running
    total = plus_one_sync.options(backend=backend).remote(resolved(done))
    assert actorio.get(total, timeout=BACKEND_WAIT) == 3
    c = Counter.options(backend=backend).remote()
    ref = adds.options(backend=backend).remote(resolved(later), b=resolved(done))
    assert actorio.get(ref, timeout=BACKEND_WAIT) == 13
    assert actorio.get(c.add.remote(resolved(later)), timeout=BACKEND_WAIT) == 11


@actorio.remote
def adds(a: int, b: int = 0) -> int:
    return a + b


# -- ObjectRef.hex -----------------------------------------------------------------------------


def test_hex_is_a_stable_id_unique_to_each_ref(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    refs = [c.increment.remote() for _ in range(3)]
    refs += [plus_one_sync.options(backend=backend).remote(1), actorio.put(0)]
    ids = [ref.hex() for ref in refs]
    assert all(re.fullmatch(r"[0-9a-f]{56}", i) for i in ids)  # Ray's shape: 28 bytes
    assert len(set(ids)) == len(ids)
    actorio.get(refs, timeout=BACKEND_WAIT)
    assert [ref.hex() for ref in refs] == ids  # the same once done


def test_hex_of_a_ref_asked_from_many_threads_at_once() -> None:
    ref = actorio.put(1)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        seen = set(pool.map(lambda _: ref.hex(), range(64)))
    assert seen == {ref.hex()}
