"""Generators as Ray programs write them, on every backend: a remote function that yields
streams (sync or async, read with ``for`` or ``async for``); a static ``num_returns`` runs the
generator to its end and splits its items over the refs, every ref resolving even when it
raises midway; ``num_returns="dynamic"`` gives one ref to a ``DynamicObjectRefGenerator``.
(Generator *methods* that stream: test_streaming.py; ``async def __init__``:
test_async_init.py.)

Everything a worker must see is at module level (workers import this module by name), and
what a generator did is written to files in ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _actors import WAIT, lines, note, tally

import actorio
from actorio import DynamicObjectRefGenerator, ObjectRefGenerator
from actorio.exceptions import InvalidArgumentsError, InvalidOptionsError, TaskError

# -- remote functions ---------------------------------------------------------------------------


@actorio.remote
def numbers(n: int) -> Iterator[int]:
    # Not `yield from range(n)`: Ray's streaming call sends values into the generator, which
    # a range iterator cannot take.
    for i in range(n):  # noqa: UP028
        yield i


@actorio.remote
async def anumbers(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield i


@actorio.remote(num_returns="streaming")
def spelled_out(n: int) -> Iterator[str]:
    for i in range(n):
        yield f"item {i}"


@actorio.remote
def failing(n: int, at: int) -> Iterator[int]:
    for i in range(n):
        if i == at:
            raise ValueError(f"failed at item {i}")
        yield i


@actorio.remote
def logged(log: str, n: int) -> Iterator[int]:
    """Counts the items it produced in ``log``; notes in ``log.end`` that it was closed."""
    try:
        for i in range(n):
            tally(log)
            yield i
    finally:
        note(log + ".end", "closed")


@actorio.remote(num_returns=4)
def two_then_boom() -> Iterator[int]:
    yield 1
    yield 2
    raise ValueError("boom after two items")


@actorio.remote(num_returns=3)
def only_one() -> Iterator[int]:
    yield 1


@actorio.remote(num_returns=2)
def three_of_two(log: str) -> Iterator[int]:
    yield 1
    yield 2
    note(log, "asked for a third")
    yield 3
    note(log, "went on after the third")


@actorio.remote(num_returns=3)
def boom_at_once() -> Iterator[int]:
    raise KeyError("nothing to yield")
    yield 0  # a generator all the same


@actorio.remote(num_returns="dynamic")
def tens(n: int) -> Iterator[int]:
    for i in range(n):
        yield i * 10


@actorio.remote(num_returns="dynamic")
def dynamic_boom() -> Iterator[int]:
    yield 1
    raise ValueError("dynamic boom")


def stream_of(value: Any) -> ObjectRefGenerator[Any]:
    """What ``.remote()`` of a generator gives (typed as the plain call's ref)."""
    assert isinstance(value, ObjectRefGenerator)
    return value


def refs_of(value: Any) -> list[actorio.ObjectRef[Any]]:
    """What ``.remote()`` of a generator with a static ``num_returns`` gives (typed as the
    plain call's ref: decorator options are not seen by type checkers)."""
    assert isinstance(value, list)
    assert all(isinstance(r, actorio.ObjectRef) for r in value)
    return value


def produced(log: str) -> int:
    """How many items ``logged`` produced so far (its count is rewritten as it goes)."""
    while True:
        text = Path(log).read_text() if Path(log).exists() else "0"
        if text:
            return int(text)


def every_ref_resolves(refs: list[actorio.ObjectRef[Any]]) -> None:
    ready, pending = actorio.wait(refs, num_returns=len(refs), timeout=WAIT)
    assert pending == []
    assert len(ready) == len(refs)


def test_a_generator_function_streams_by_default(backend: str) -> None:
    stream = numbers.options(backend=backend).remote(5)
    assert isinstance(stream, ObjectRefGenerator)
    assert [actorio.get(ref, timeout=WAIT) for ref in stream] == [0, 1, 2, 3, 4]
    assert list(stream) == []  # ended


def test_num_returns_streaming_on_a_function(backend: str) -> None:
    decorated = spelled_out.options(backend=backend).remote(2)
    assert [actorio.get(ref, timeout=WAIT) for ref in decorated] == ["item 0", "item 1"]
    optioned = numbers.options(backend=backend, num_returns="streaming").remote(3)
    assert [actorio.get(ref, timeout=WAIT) for ref in optioned] == [0, 1, 2]


async def test_async_iteration_of_a_generator_function(backend: str) -> None:
    got = []
    async with asyncio.timeout(WAIT):
        async for ref in stream_of(numbers.options(backend=backend).remote(3)):
            got.append(await ref)
    assert got == [0, 1, 2]


async def test_an_async_generator_function_streams(backend: str) -> None:
    got = []
    async with asyncio.timeout(WAIT):
        async for ref in stream_of(anumbers.options(backend=backend).remote(4)):
            got.append(await ref)
    assert got == [0, 1, 2, 3]
    in_sync_code = await asyncio.to_thread(
        lambda: [actorio.get(r, timeout=WAIT) for r in anumbers.options(backend=backend).remote(2)]
    )
    assert in_sync_code == [0, 1]


def test_an_error_mid_stream_comes_at_that_item(backend: str) -> None:
    refs = iter(failing.options(backend=backend).remote(10, 2))
    assert [actorio.get(next(refs), timeout=WAIT) for _ in range(2)] == [0, 1]
    with pytest.raises(ValueError, match="failed at item 2") as info:
        actorio.get(next(refs), timeout=WAIT)
    assert isinstance(info.value, TaskError)
    assert 'raise ValueError(f"failed at item {i}")' in info.value.traceback_str  # remote
    with pytest.raises(StopIteration):
        next(refs)


def test_the_producer_stays_within_the_window_and_stops_when_closed(
    backend: str, tmp_path: Path
) -> None:
    log = str(tmp_path / "produced")
    window = {"_generator_backpressure_num_objects": 2}
    stream = logged.options(backend=backend, **window).remote(log, 1000)
    assert [actorio.get(next(stream), timeout=WAIT) for _ in range(3)] == [0, 1, 2]
    deadline = time.monotonic() + WAIT
    while produced(log) < 3 + 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # it may have stopped only for want of a turn: give it time to run on
    made = produced(log)
    # Two items wait for the consumer, and the producer may hold one it cannot hand over yet
    # (Ray's own count may stop earlier).
    assert (3 + 2 if backend != "ray" else 3) <= made <= 3 + 2 + 1
    stream.close()
    while lines(Path(log + ".end")) != ["closed"]:  # its finally ran
        assert time.monotonic() < deadline, "the generator was never closed"
        time.sleep(0.01)
    assert produced(log) <= 3 + 2 + 2  # and it stopped there


@pytest.mark.ray_differs("Ray stops a cancelled stream when it gets to it (seen hanging in CI)")
@pytest.mark.timeout(60)
async def test_cancelling_the_consumer_closes_the_generator(backend: str, tmp_path: Path) -> None:
    log = str(tmp_path / "produced")
    started = asyncio.Event()

    async def consume() -> None:
        async for ref in stream_of(logged.options(backend=backend).remote(log, 2_000)):
            await ref
            started.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(WAIT):
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        while lines(Path(log + ".end")) != ["closed"]:
            await asyncio.sleep(0.01)
    assert produced(log) < 2_000  # stopped early


def test_shutdown_stops_a_generator_task_nobody_reads(tmp_path: Path) -> None:
    log = str(tmp_path / "produced")
    stream = stream_of(logged.remote(log, 1000))
    assert actorio.get(next(stream), timeout=WAIT) == 0
    actorio.shutdown()
    deadline = time.monotonic() + WAIT
    while lines(Path(log + ".end")) != ["closed"]:  # its finally ran, on its own thread
        assert time.monotonic() < deadline, "the generator was never closed"
        time.sleep(0.01)
    assert list(stream) == []  # and the stream has ended


# -- static num_returns -------------------------------------------------------------------------


def test_static_num_returns_raising_after_two_items_fails_the_remaining_refs(
    backend: str,
) -> None:
    refs = refs_of(two_then_boom.options(backend=backend).remote())
    assert len(refs) == 4
    every_ref_resolves(refs)
    assert actorio.get(refs[:2], timeout=WAIT) == [1, 2]
    for ref in refs[2:]:
        with pytest.raises(ValueError, match="boom after two items") as info:
            actorio.get(ref, timeout=WAIT)
        assert isinstance(info.value, TaskError)
        assert "two_then_boom" in str(info.value)
        assert 'raise ValueError("boom after two items")' in info.value.traceback_str


async def test_static_num_returns_in_async_code(backend: str) -> None:
    refs = refs_of(two_then_boom.options(backend=backend).remote())
    async with asyncio.timeout(WAIT):
        outcomes = await asyncio.gather(*refs, return_exceptions=True)
    assert outcomes[:2] == [1, 2]
    assert all(isinstance(e, ValueError) and isinstance(e, TaskError) for e in outcomes[2:])


def test_too_few_items_fail_the_refs_left_without_one(backend: str) -> None:
    refs = refs_of(only_one.options(backend=backend).remote())
    every_ref_resolves(refs)
    assert actorio.get(refs[0], timeout=WAIT) == 1
    for ref in refs[1:]:
        with pytest.raises(InvalidArgumentsError) as info:
            actorio.get(ref, timeout=WAIT)
        assert str(info.value) == (
            "only_one declares num_returns=3 but its generator yielded 1 item(s); yield "
            "exactly 3, or drop num_returns to stream the items"
        )


def test_too_many_items_are_dropped_as_ray_does(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "log"
    with caplog.at_level(logging.WARNING, logger="actorio"):
        refs = refs_of(three_of_two.options(backend=backend).remote(str(log)))
        assert actorio.get(refs, timeout=WAIT) == [1, 2]
    # The generator is asked for one item more (that is how the surplus shows), then closed.
    assert lines(log) == ["asked for a third"]
    if backend == "local":  # (elsewhere the warning is logged in the worker)
        assert "three_of_two declares num_returns=2 but its generator yielded more" in caplog.text


def test_static_num_returns_one_gives_the_first_item(backend: str) -> None:
    ref: Any = numbers.options(backend=backend, num_returns=1).remote(1)
    assert isinstance(ref, actorio.ObjectRef)
    assert actorio.get(ref, timeout=WAIT) == 0
    assert actorio.get(numbers.options(backend=backend, num_returns=2).remote(2)) == [0, 1]


def test_a_generator_raising_before_its_first_item_fails_every_ref(backend: str) -> None:
    refs = refs_of(boom_at_once.options(backend=backend).remote())
    every_ref_resolves(refs)
    for ref in refs:
        with pytest.raises(KeyError, match="nothing to yield") as info:
            actorio.get(ref, timeout=WAIT)
        assert isinstance(info.value, TaskError)


# -- num_returns="dynamic" ----------------------------------------------------------------------


def test_dynamic_num_returns_gives_a_ref_to_the_items_refs(backend: str) -> None:
    ref = tens.options(backend=backend).remote(3)
    assert isinstance(ref, actorio.ObjectRef)
    gen: Any = actorio.get(ref, timeout=WAIT)
    assert isinstance(gen, DynamicObjectRefGenerator)
    assert len(gen) == 3
    assert [actorio.get(r, timeout=WAIT) for r in gen] == [0, 10, 20]
    assert len(gen) == 0  # iterating takes the refs out, as Ray's does
    assert list(gen) == []
    optioned: Any = actorio.get(numbers.options(backend=backend, num_returns="dynamic").remote(2))
    assert [actorio.get(r, timeout=WAIT) for r in optioned] == [0, 1]
    empty: Any = actorio.get(tens.options(backend=backend).remote(0), timeout=WAIT)
    assert len(empty) == 0


def test_a_dynamic_generator_that_raises_ends_with_its_error(backend: str) -> None:
    gen: Any = actorio.get(dynamic_boom.options(backend=backend).remote(), timeout=WAIT)
    refs = list(gen)
    assert len(refs) == 2
    assert actorio.get(refs[0], timeout=WAIT) == 1
    with pytest.raises(ValueError, match="dynamic boom") as info:
        actorio.get(refs[1], timeout=WAIT)
    assert isinstance(info.value, TaskError)


async def test_dynamic_num_returns_in_async_code(backend: str) -> None:
    async with asyncio.timeout(WAIT):
        gen: Any = await tens.options(backend=backend).remote(2)
        assert [await r for r in gen] == [0, 10]


# -- generator methods with their refs known up front -------------------------------------------


@actorio.remote
class Source:
    def items(self, n: int) -> Iterator[int]:
        for i in range(n):  # noqa: UP028  (as in numbers)
            yield i

    @actorio.method(num_returns=4)
    def two_then_boom(self) -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("method boom after two items")

    @actorio.method(num_returns="dynamic")
    def chunks(self, n: int) -> Iterator[list[int]]:
        for i in range(n):
            yield [i] * i

    def alive(self) -> bool:
        return True


@actorio.remote
class AsyncSource:
    async def items(self, n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i


def test_a_generator_method_with_static_num_returns(backend: str) -> None:
    s = Source.options(backend=backend).remote()
    refs = list(s.two_then_boom.remote())
    every_ref_resolves(refs)
    assert actorio.get(refs[:2], timeout=WAIT) == [1, 2]
    for ref in refs[2:]:
        with pytest.raises(ValueError, match="method boom after two items") as info:
            actorio.get(ref, timeout=WAIT)
        assert isinstance(info.value, TaskError)
        assert "Source.two_then_boom" in str(info.value)
    assert actorio.get(s.items.options(num_returns=3).remote(3), timeout=WAIT) == [0, 1, 2]
    assert actorio.get(s.items.options(num_returns=1).remote(1), timeout=WAIT) == 0
    too_few = list(s.items.options(num_returns=2).remote(1))
    assert actorio.get(too_few[0], timeout=WAIT) == 0
    with pytest.raises(InvalidArgumentsError, match=r"Source\.items declares num_returns=2"):
        actorio.get(too_few[1], timeout=WAIT)
    assert actorio.get(s.alive.remote(), timeout=WAIT) is True  # the actor lives on


def test_a_generator_method_with_dynamic_num_returns(backend: str) -> None:
    s = Source.options(backend=backend).remote()
    gen: Any = actorio.get(s.chunks.remote(3), timeout=WAIT)
    assert isinstance(gen, DynamicObjectRefGenerator)
    assert len(gen) == 3
    assert [actorio.get(r, timeout=WAIT) for r in gen] == [[], [1], [2, 2]]
    again: Any = actorio.get(s.items.options(num_returns="dynamic").remote(2), timeout=WAIT)
    assert [actorio.get(r, timeout=WAIT) for r in again] == [0, 1]


@pytest.mark.ray_differs("Ray cannot split an async generator method over static refs")
def test_an_async_generator_method_with_its_refs_known_up_front(backend: str) -> None:
    s = AsyncSource.options(backend=backend).remote()
    assert actorio.get(s.items.options(num_returns=2).remote(2), timeout=WAIT) == [0, 1]
    gen: Any = actorio.get(s.items.options(num_returns="dynamic").remote(3), timeout=WAIT)
    assert [actorio.get(r, timeout=WAIT) for r in gen] == [0, 1, 2]


def test_cancelling_a_dynamic_call() -> None:
    @actorio.remote
    class Slow:
        async def gate(self) -> None:
            await asyncio.Event().wait()  # never opens: the next call waits behind it

        async def items(self) -> AsyncIterator[int]:
            yield 1

    s = Slow.options(max_concurrency=1).remote()
    s.gate.remote()
    ref = s.items.options(num_returns="dynamic").remote()
    actorio.cancel(ref)
    with pytest.raises(actorio.exceptions.TaskCancelledError):
        actorio.get(ref, timeout=WAIT)


# -- what needs a generator ---------------------------------------------------------------------


def plain(x: int) -> int:
    return x


def test_streaming_and_dynamic_need_a_generator() -> None:
    for spelling in ("streaming", "dynamic"):
        with pytest.raises(InvalidOptionsError, match="needs a generator") as info:
            actorio.remote(num_returns=spelling)(plain)
        assert "plain is not one" in str(info.value)
        with pytest.raises(InvalidOptionsError, match="needs a generator"):
            actorio.remote(plain).options(num_returns=spelling)
        with pytest.raises(InvalidOptionsError, match="needs a generator"):
            Source.remote().alive.options(num_returns=spelling)

        class Wrong:
            @actorio.method(num_returns=spelling)
            def value(self) -> int:
                return 1

        with pytest.raises(InvalidOptionsError, match=r"Wrong\.value is not one"):
            actorio.remote(Wrong)
    with pytest.raises(InvalidOptionsError, match="'streaming' or 'dynamic'"):
        numbers.options(num_returns="lazy")  # type: ignore[call-overload]  # deliberately wrong
