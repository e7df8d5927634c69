"""The core and lifecycle semantics (README, "Semantics" and "Lifecycle semantics") on every
backend: in-process, and one worker process per actor.

Each test takes the ``backend`` fixture and mirrors assertions of the in-process suites
(test_actor, test_modes, test_registry, test_restarts, test_hooks_and_monitors, test_cancel,
test_backpressure, test_shutdown, test_supervisor, test_api_get_wait). Only pickled copies
reach a worker process, so every actor here keeps its coordination inside itself: events and
barriers are created in the actor, a test waits for a state through a method that awaits it
(often in a "control" concurrency group, so it is not stuck behind the calls it watches), and
what must outlive an instance (constructor attempts, hook calls) is written to files in
``tmp_path``. The classes are at module level so that workers can import them by name.
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import actorio
from actorio.exceptions import (
    ActorDiedError,
    ActorMethodNotFoundError,
    ActorNameTakenError,
    ActorNotFoundError,
    CallTimeoutError,
    DirectCallError,
    GetTimeoutError,
    InvalidArgumentsError,
    InvalidOptionsError,
    PendingCallsLimitExceeded,
    SupervisorError,
    TaskCancelledError,
    TaskError,
)

WAIT = 20.0  # a cap on every wait: a hang fails the test, a slow machine does not
CANCELLED_MSG = r"cancelled with actorio\.cancel\(\)"

pytestmark = pytest.mark.timeout(120)


# -- helpers that work the same in a worker process ---------------------------------------------


def note(path: str, line: str) -> None:
    """Append one line to a log file (what a hook or method did, seen from the driver)."""
    with open(path, "a") as f:
        f.write(line + "\n")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def tally(path: str) -> int:
    """Count one more attempt in a file; return the count (1 on the first attempt)."""
    p = Path(path)
    n = int(p.read_text() or 0) + 1 if p.exists() else 1
    p.write_text(str(n))
    return n


class Boom(Exception):
    """A user error with two arguments: it must survive the trip back from a worker."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


# -- actors -------------------------------------------------------------------------------------


@actorio.remote
class Counter:
    def __init__(self, start: int = 0, *, step: int = 1) -> None:
        self.count = start
        self.step = step
        self.seen: list[object] = []

    def increment(self, by: int = 1) -> int:
        self.count += by * self.step
        return self.count

    def get(self) -> int:
        return self.count

    def params(self, a: int, b: int = 2, *rest: int, c: int = 3, **extra: int) -> dict[str, Any]:
        return {"a": a, "b": b, "rest": list(rest), "c": c, "extra": extra}

    def add(self, a: int, b: int = 0) -> int:
        return a + b

    def record(self, item: object) -> list[object]:
        self.seen.append(item)
        return list(self.seen)

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def fail_custom(self, code: int, detail: str) -> None:
        raise Boom(code, detail)

    def split(self, n: int) -> tuple[int, ...]:
        return tuple(range(n))

    @actorio.method(num_returns=2)
    def pair(self) -> tuple[int, int]:
        return self.count, -self.count

    def quit(self) -> None:
        actorio.exit_actor()

    def context(self) -> dict[str, Any]:
        ctx = actorio.get_runtime_context()
        return {
            "id": ctx.get_actor_id(),
            "name": ctx.get_actor_name(),
            "namespace": ctx.namespace,
            "me": ctx.current_actor,
        }

    def find(self, name: str) -> int:
        """Look a named actor up from inside this one and call it (blocking is fine: the
        caller makes this actor threaded for that)."""
        return int(actorio.get(actorio.get_actor(name).increment.remote(), timeout=WAIT))


@actorio.remote
class Keys:
    """An async actor of named gates: ``wait_open(k)`` returns once ``open(k)`` was called."""

    def __init__(self) -> None:
        self.events: dict[int, asyncio.Event] = {}

    async def wait_open(self, key: int) -> int:
        await self.events.setdefault(key, asyncio.Event()).wait()
        return key

    async def open(self, key: int) -> None:
        self.events.setdefault(key, asyncio.Event()).set()

    async def fail(self, message: str) -> None:
        await asyncio.sleep(0)
        raise KeyError(message)


@actorio.remote(max_concurrency=3, concurrency_groups={"control": 1})
class Interleaver:
    """Async, at most three ``hold`` calls at once; counts how many run together."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        self.started: list[int] = []
        self.full = asyncio.Event()
        self.go = asyncio.Event()

    async def hold(self, i: int) -> int:
        self.started.append(i)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.in_flight == self.limit:
            self.full.set()
        await self.go.wait()
        self.in_flight -= 1
        return i

    @actorio.method(concurrency_group="control")
    async def when_full(self) -> tuple[int, list[int]]:
        await self.full.wait()
        for _ in range(20):  # let anything that could wrongly start, start
            await asyncio.sleep(0)
        return self.in_flight, list(self.started)

    @actorio.method(concurrency_group="control")
    async def release(self) -> None:
        self.go.set()

    @actorio.method(concurrency_group="control")
    async def stats(self) -> tuple[int, int]:
        return self.peak, self.in_flight


@actorio.remote(max_concurrency=4)
class Pool:
    """Threaded: ``meet`` passes its barrier only when ``parties`` calls run at once."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def meet(self) -> str:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            self.barrier.wait(WAIT)
        finally:
            with self.lock:
                self.in_flight -= 1
        return threading.current_thread().name

    def peak_seen(self) -> int:
        return self.peak


@actorio.remote(concurrency_groups={"io": 2})
class Grouped:
    """Threaded; the default group runs one call at a time, the "io" group two."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.released = threading.Event()
        self.barrier = threading.Barrier(2)

    def block(self) -> str:
        self.started.set()
        if not self.released.wait(WAIT):
            raise TimeoutError("never released")
        return "default done"

    @actorio.method(concurrency_group="io")
    def fetch(self) -> str:
        if not self.started.wait(WAIT):  # the default group is busy with block()...
            raise TimeoutError("block() never started")
        self.barrier.wait(WAIT)  # ... and two "io" calls run together
        return "fetched"

    @actorio.method(concurrency_group="io")
    def release(self) -> bool:
        """Release block(); True if it was still running then."""
        running = self.started.is_set() and not self.released.is_set()
        self.released.set()
        return running

    def quick(self) -> str:
        return "quick"


@actorio.remote
class Relay:
    """Async: takes handles (in containers, too) and calls through them."""

    async def bump_all(self, counters: list[actorio.ActorHandle[Any]], times: int) -> list[int]:
        for c in counters:
            for _ in range(times):
                c.increment.remote()  # fire and forget: the caller's order is kept
        return [await c.get.remote() for c in counters]

    async def through(
        self, other: actorio.ActorHandle[Any], counter: actorio.ActorHandle[Any]
    ) -> list[int]:
        """A handle passed on again: driver -> this actor -> other -> counter."""
        return list(await other.bump_all.remote([counter], 1))

    async def hand_back(self, handle: actorio.ActorHandle[Any]) -> actorio.ActorHandle[Any]:
        return handle


@actorio.remote
def bump_and_read(counter: actorio.ActorHandle[Any], times: int) -> int:
    """A plain ``def`` task: it may block on actorio.get."""
    value = 0
    for _ in range(times):
        value = actorio.get(counter.increment.remote(), timeout=WAIT)
    return value


@actorio.remote(max_restarts=2)
class Flaky:
    """Its constructor fails the first ``failures`` times (attempts are counted in a file)."""

    def __init__(self, attempts: str, failures: int) -> None:
        self.gen = tally(attempts)
        if self.gen <= failures:
            raise ConnectionError(f"attempt {self.gen} failed")
        self.calls = 0

    def which(self) -> tuple[int, int]:
        self.calls += 1
        return self.gen, self.calls


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


class _Life:
    """Logs its life to a file: ``init N``, ``start N``, ``call N``, ``stop N``, where N
    counts the instances built (in ``<log>.tally``)."""

    def __init__(self, log: str) -> None:
        self.log = log
        self.gen = tally(log + ".tally")
        self.count = 0
        note(log, f"init {self.gen}")

    def increment(self) -> int:
        note(self.log, f"call {self.gen}")
        self.count += 1
        return self.count

    def get(self) -> int:
        return self.count

    def generation(self) -> int:
        return self.gen

    def quit(self) -> None:
        actorio.exit_actor()


@actorio.remote
class SyncLife(_Life):
    def __actorio_start__(self) -> None:
        note(self.log, f"start {self.gen}")

    def __actorio_stop__(self) -> None:
        note(self.log, f"stop {self.gen}")


@actorio.remote
class AsyncLife(_Life):
    async def __actorio_start__(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0)  # yields only: calls must still wait for the end
        note(self.log, f"start {self.gen}")

    async def __actorio_stop__(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        note(self.log, f"stop {self.gen}")


LIVES = {"sync": SyncLife, "async": AsyncLife}


@actorio.remote(max_task_retries=2, retry_exceptions=[ValueError, Boom])
class Retrier:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def fail_then_succeed(self, key: str, failures: int, exc: type[Exception]) -> str:
        n = self.calls[key] = self.calls.get(key, 0) + 1
        if n <= failures:
            raise Boom(n, key) if exc is Boom else exc(f"{key} attempt {n}")
        return f"{key} ok after {n}"

    def attempts(self, key: str) -> int:
        return self.calls.get(key, 0)

    @actorio.method(max_task_retries=0)
    def never_retried(self, key: str) -> None:
        self.calls[key] = self.calls.get(key, 0) + 1
        raise ValueError(f"{key} once")


@actorio.remote(max_concurrency=2, max_restarts=1, concurrency_groups={"control": 1})
class Parker:
    """Async; on its first instance ``work`` parks forever, so only a restart ends it."""

    def __init__(self, attempts: str) -> None:
        self.gen = tally(attempts)
        self.log: list[str] = []
        self.parked: list[str] = []
        self.both_parked = asyncio.Event()

    async def work(self, tag: str) -> tuple[int, str]:
        self.log.append(tag)
        if self.gen == 1:
            self.parked.append(tag)
            if len(self.parked) == 2:
                self.both_parked.set()
            await asyncio.Event().wait()
        return self.gen, tag

    @actorio.method(concurrency_group="control")
    async def wait_parked(self) -> list[str]:
        await self.both_parked.wait()
        return list(self.parked)

    @actorio.method(concurrency_group="control")
    async def history(self) -> tuple[int, list[str]]:
        return self.gen, list(self.log)


@actorio.remote(max_concurrency=1, concurrency_groups={"control": 1})
class Gate:
    """Async, one call at a time; ``park`` holds the slot until ``open()``. The control
    group watches from the side."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.started = asyncio.Event()
        self.opened = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def park(self, tag: str) -> str:
        self.log.append(("start", tag))
        self.started.set()
        try:
            await self.opened.wait()
        except asyncio.CancelledError:
            self.log.append(("cancelled", tag))
            self.cancelled.set()
            raise
        self.log.append(("end", tag))
        return tag

    @actorio.method(timeout=0.2)
    async def park_briefly(self, tag: str) -> str:
        return await self.park(tag)

    async def record(self, tag: str) -> str:
        self.log.append(("ran", tag))
        return tag

    @actorio.method(concurrency_group="control")
    async def wait_started(self) -> None:
        await self.started.wait()
        self.started.clear()

    @actorio.method(concurrency_group="control")
    async def wait_cancelled(self) -> None:
        await self.cancelled.wait()
        self.cancelled.clear()

    @actorio.method(concurrency_group="control")
    async def open(self) -> None:
        self.opened.set()

    @actorio.method(concurrency_group="control")
    async def history(self) -> list[tuple[str, str]]:
        return list(self.log)


@actorio.remote(max_concurrency=1, max_pending_calls=2)
class Bounded:
    """Async, one call at a time, room for two pending calls. ``park`` waits on a ``Keys``
    actor, so the test can release it while this actor's mailbox is full."""

    def __init__(self) -> None:
        self.ran: list[int] = []

    async def park(self, tag: int, keys: actorio.ActorHandle[Any]) -> int:
        await keys.wait_open.remote(tag)
        self.ran.append(tag)
        return tag

    async def quick(self, tag: int) -> int:
        self.ran.append(tag)
        return tag

    def history(self) -> list[int]:
        return list(self.ran)


@actorio.remote(mode="threaded", max_concurrency=2)
class Draining:
    """Threaded; ``wait_fifo`` blocks until someone writes to a named pipe (an event that
    works across processes without polling)."""

    def __init__(self, log: str) -> None:
        self.log = log

    def wait_fifo(self, fifo: str) -> str:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            # No writer has opened it yet, so it is not readable until one writes.
            readable, _, _ = select.select([fd], [], [], WAIT)
        finally:
            os.close(fd)
        if not readable:
            raise TimeoutError("nobody wrote to the pipe")
        note(self.log, "finished")
        return "finished"

    def ping(self) -> str:
        return "pong"

    def __actorio_stop__(self) -> None:
        note(self.log, "stopped")


@actorio.remote
class Stuck:
    """Async; ``forever`` never returns, and logs its cancellation."""

    def __init__(self, log: str) -> None:
        self.log = log
        self.started = asyncio.Event()

    async def forever(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            note(self.log, "cancelled")
            raise

    async def wait_started(self) -> None:
        await self.started.wait()

    async def ping(self) -> str:
        return "pong"

    async def __actorio_stop__(self) -> None:
        await asyncio.sleep(0)
        note(self.log, "stopped")


# == core ======================================================================================


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


def test_arguments_that_do_not_fit_fail_at_the_call_site(backend: str) -> None:
    c = Counter.options(backend=backend).remote(1)
    with pytest.raises(InvalidArgumentsError, match=r"Counter\.increment\(by: int = 1\)") as info:
        c.increment.remote(1, 2)
    assert isinstance(info.value, TypeError)
    assert "too many positional arguments" in str(info.value)
    with pytest.raises(InvalidArgumentsError, match="unexpected keyword argument 'stride'"):
        c.increment.remote(stride=2)
    with pytest.raises(InvalidArgumentsError, match="missing a required argument: 'a'"):
        c.params.remote()
    with pytest.raises(InvalidArgumentsError, match=r"Counter\(start: int = 0, \*, step"):
        Counter.options(backend=backend).remote(1, 2, 3)
    with pytest.raises(InvalidArgumentsError, match="unexpected keyword argument 'begin'"):
        Counter.options(backend=backend).remote(begin=1)
    with pytest.raises(DirectCallError, match=r"increment\.remote\("):
        c.increment()
    # Nothing was queued by the failed calls.
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 2
    assert actorio.pending_calls(c) == 0


def test_unknown_method_lists_the_methods(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    with pytest.raises(ActorMethodNotFoundError, match="no method 'incremnt'") as info:
        c.incremnt.remote()
    assert isinstance(info.value, AttributeError)
    assert "'increment'" in str(info.value)
    assert "Counter" in str(info.value)
    assert not hasattr(c, "nope")
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1


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


async def test_errors_reach_async_callers_too(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    async with asyncio.timeout(WAIT):
        with pytest.raises(ValueError, match="awaited boom") as info:
            await c.fail.remote("awaited boom")
        assert isinstance(info.value, TaskError)
        assert "raise ValueError(message)" in info.value.traceback_str
        assert await asyncio.gather(*(c.increment.remote() for _ in range(3))) == [1, 2, 3]


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


def test_ref_arguments_are_resolved_in_order(backend: str) -> None:
    a = Counter.options(backend=backend).remote(10)
    b = Counter.options(backend=backend).remote()
    assert actorio.get(b.add.remote(a.increment.remote(), 5), timeout=WAIT) == 16
    assert actorio.get(b.add.remote(a=a.get.remote(), b=a.increment.remote(2)), timeout=WAIT) == 24
    # A ref still pending: calls made after it wait behind it, keeping the order.
    keys = Keys.options(backend=backend).remote()
    later = keys.wait_open.remote(7)
    first = b.record.remote(later)
    second = b.record.remote("after")
    ready, not_ready = actorio.wait([first, second], num_returns=1, timeout=0.2)
    assert (ready, not_ready) == ([], [first, second])
    keys.open.remote(7)
    assert actorio.get([first, second], timeout=WAIT) == [[7], [7, "after"]]
    # A failed ref fails the call with the same error; the actor lives on.
    with pytest.raises(ValueError, match="bad ref") as info:
        actorio.get(b.add.remote(a.fail.remote("bad ref"), 1), timeout=WAIT)
    assert isinstance(info.value, TaskError)
    assert actorio.get(b.add.remote(1, 1), timeout=WAIT) == 2


def test_wait_and_get_timeouts(backend: str) -> None:
    keys = Keys.options(backend=backend).remote()
    keys.open.remote(1)
    keys.open.remote(3)
    refs = [keys.wait_open.remote(1), keys.wait_open.remote(2), keys.wait_open.remote(3)]
    ready, not_ready = actorio.wait(refs, num_returns=2, timeout=WAIT)
    assert ready == [refs[0], refs[2]]  # both lists keep the input order
    assert not_ready == [refs[1]]
    ready, not_ready = actorio.wait(refs, num_returns=3, timeout=0.2)  # returns what is ready
    assert (ready, not_ready) == ([refs[0], refs[2]], [refs[1]])
    ready, not_ready = actorio.wait(refs, timeout=WAIT)  # num_returns=1 by default
    assert (ready, not_ready) == ([refs[0]], [refs[1], refs[2]])
    with pytest.raises(GetTimeoutError, match=r"timed out after 0\.2 s") as info:
        actorio.get(refs[1], timeout=0.2)
    assert isinstance(info.value, TimeoutError)
    with pytest.raises(GetTimeoutError, match="1 result"):
        actorio.get(refs, timeout=0.1)
    keys.open.remote(2)
    # The call went on after the timeouts.
    ready, not_ready = actorio.wait(refs, num_returns=3, timeout=WAIT)
    assert (ready, not_ready) == (refs, [])
    assert actorio.get(refs, timeout=WAIT) == [1, 2, 3]


@pytest.mark.ray_differs(
    "each concurrency group of an async actor runs on its own event loop thread, so asyncio "
    "objects shared between groups do not wake each other"
)
def test_async_actor_interleaves_up_to_max_concurrency(backend: str) -> None:
    it = Interleaver.options(backend=backend).remote(3)
    refs = [it.hold.remote(i) for i in range(10)]
    in_flight, started = actorio.get(it.when_full.remote(), timeout=WAIT)
    assert in_flight == 3
    assert started == [0, 1, 2]  # started in submission order, and no more than three
    actorio.get(it.release.remote(), timeout=WAIT)
    assert actorio.get(refs, timeout=WAIT) == list(range(10))
    assert actorio.get(it.stats.remote(), timeout=WAIT) == (3, 0)


def test_threaded_actor_runs_max_concurrency_calls_at_once(backend: str) -> None:
    p = Pool.options(backend=backend).remote(4)
    names = actorio.get([p.meet.remote() for _ in range(8)], timeout=WAIT)
    assert len(set(names)) == 4
    if backend != "ray":  # Ray names its threads itself
        assert all(n.startswith("actorio-Pool") for n in names)
    assert actorio.get(p.peak_seen.remote(), timeout=WAIT) == 4
    two = Pool.options(backend=backend, max_concurrency=2).remote(2)
    assert len(actorio.get([two.meet.remote() for _ in range(6)], timeout=WAIT)) == 6
    assert actorio.get(two.peak_seen.remote(), timeout=WAIT) == 2  # never more than its limit


@pytest.mark.ray_differs(
    "a threaded actor with concurrency groups was seen finishing a default-group call while "
    "another held the group's only slot"
)
def test_concurrency_groups_do_not_block_each_other(backend: str) -> None:
    g = Grouped.options(backend=backend).remote()
    busy = g.block.remote()  # holds the default group's only slot
    queued = g.quick.remote()  # waits behind it
    assert actorio.get([g.fetch.remote(), g.fetch.remote()], timeout=WAIT) == ["fetched"] * 2
    # A default-group method moved into "io" for one call runs while the default is busy.
    assert actorio.get(g.quick.options(concurrency_group="io").remote(), timeout=WAIT) == "quick"
    # __ray_ready__ is never stuck behind user calls.
    assert actorio.get(g.__ray_ready__.remote(), timeout=WAIT) is True
    assert actorio.wait([busy, queued], num_returns=1, timeout=0.2) == ([], [busy, queued])
    assert actorio.get(g.release.remote(), timeout=WAIT) is True  # block() was still running
    assert actorio.get([busy, queued], timeout=WAIT) == ["default done", "quick"]
    with pytest.raises(InvalidOptionsError, match="no concurrency group 'nope'"):
        g.quick.options(concurrency_group="nope")


def test_named_actors(backend: str) -> None:
    name = f"counter-{backend}"
    h = Counter.options(backend=backend, name=name).remote(10)
    assert actorio.get(h.increment.remote(), timeout=WAIT) == 11
    same = actorio.get_actor(name)
    assert same == h
    assert hash(same) == hash(h)
    assert same._actorio_id == h._actorio_id
    assert actorio.get(same.increment.remote(), timeout=WAIT) == 12  # one instance
    assert actorio.get(h.get.remote(), timeout=WAIT) == 12

    # get_if_exists: the same actor; the new constructor arguments are ignored.
    again = Counter.options(backend=backend, name=name, get_if_exists=True).remote(1000)
    assert again == h
    assert actorio.get(again.increment.remote(), timeout=WAIT) == 13

    with pytest.raises(ActorNameTakenError) as taken:
        Counter.options(backend=backend, name=name).remote()
    assert isinstance(taken.value, ValueError)
    message = str(taken.value)
    assert f"'{name}'" in message
    assert "'default'" in message
    assert "get_if_exists" in message
    assert actorio.get_actor(name) == h  # the first one still holds the name

    # Namespaces: the same name twice, two actors.
    a = Counter.options(backend=backend, name="n", namespace="a").remote(100)
    b = Counter.options(backend=backend, name="n", namespace="b").remote(200)
    assert a != b
    assert actorio.get_actor("n", namespace="a") == a
    assert actorio.get(actorio.get_actor("n", namespace="b").increment.remote(), timeout=WAIT) == (
        201
    )
    with pytest.raises(ActorNotFoundError, match=r"'n'.*'default'"):
        actorio.get_actor("n")

    with pytest.raises(ActorNotFoundError) as missing:
        actorio.get_actor("ghost")
    assert isinstance(missing.value, ValueError)
    assert "'ghost'" in str(missing.value)
    assert f"'{name}'" in str(missing.value)  # it lists the names it knows there

    Counter.options(backend=backend).remote()  # anonymous: never listed
    assert actorio.util.list_named_actors() == [name]
    listed = actorio.util.list_named_actors(all_namespaces=True)
    assert sorted((e["namespace"], e["name"]) for e in listed) == [
        ("a", "n"),
        ("b", "n"),
        ("default", name),
    ]

    # Killing frees the name; the old handle stays dead.
    actorio.kill(h)
    with pytest.raises(ActorNotFoundError, match=f"'{name}'"):
        actorio.get_actor(name)
    new = Counter.options(backend=backend, name=name).remote(50)
    assert new != h
    assert actorio.get(actorio.get_actor(name).increment.remote(), timeout=WAIT) == 51
    with pytest.raises(ActorDiedError, match=r"killed with actorio\.kill\(\)"):
        actorio.get(h.get.remote(), timeout=WAIT)


def test_named_actors_are_found_from_inside_actors(backend: str) -> None:
    target = Counter.options(backend=backend, name="target").remote()
    finder = Counter.options(backend=backend, mode="threaded").remote()
    assert actorio.get(finder.find.remote("target"), timeout=WAIT) == 1
    assert actorio.get(target.get.remote(), timeout=WAIT) == 1
    with pytest.raises(ActorNotFoundError, match="'nobody'") as info:
        actorio.get(finder.find.remote("nobody"), timeout=WAIT)
    assert isinstance(info.value, TaskError)  # raised in the actor, relayed as its error
    assert "Counter.find" in str(info.value)


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


def test_ray_ready_and_ray_terminate(backend: str) -> None:
    c = Counter.options(backend=backend).remote()
    assert actorio.get(c.__ray_ready__.remote(), timeout=WAIT) is True
    first = c.increment.remote()
    terminate = c.__ray_terminate__.remote()  # after the calls queued before it
    assert actorio.get(first, timeout=WAIT) == 1
    for ref in (terminate, c.increment.remote()):
        with pytest.raises(ActorDiedError, match="exit_actor"):
            actorio.get(ref, timeout=WAIT)
    reason = actorio.get(actorio.monitor(c), timeout=WAIT)
    assert "exit_actor" in str(reason)
    with pytest.raises(ActorDiedError, match="exit_actor"):
        actorio.get(c.__ray_ready__.remote(), timeout=WAIT)


@pytest.mark.ray_differs("inside a Ray actor the namespace is the Ray job's")
def test_runtime_context_inside_actors(backend: str) -> None:
    named = Counter.options(backend=backend, name="who", namespace="elsewhere").remote()
    ctx = actorio.get(named.context.remote(), timeout=WAIT)
    assert ctx["id"] == named._actorio_id
    assert ctx["name"] == "who"
    # The runtime's namespace (where get_actor looks), not the actor's.
    assert ctx["namespace"] == "default"
    assert ctx["me"] == named
    anonymous = Counter.options(backend=backend).remote()
    ctx = actorio.get(anonymous.context.remote(), timeout=WAIT)
    assert ctx["id"] == anonymous._actorio_id
    assert ctx["name"] is None
    assert ctx["me"] == anonymous
    assert actorio.get_runtime_context().get_actor_id() is None  # the driver is no actor


@pytest.mark.ray_differs("inside a Ray actor the namespace is the Ray job's")
def test_runtime_namespace_reaches_actors(backend: str) -> None:
    actorio.init(namespace="team")
    c = Counter.options(backend=backend).remote()
    assert actorio.get(c.context.remote(), timeout=WAIT)["namespace"] == "team"
    Counter.options(backend=backend, name="mate").remote()
    finder = Counter.options(backend=backend, mode="threaded").remote()
    assert actorio.get(finder.find.remote("mate"), timeout=WAIT) == 1


# == lifecycle ================================================================================


def test_constructor_restarts_then_serves_earlier_calls(backend: str, tmp_path: Path) -> None:
    h = Flaky.options(backend=backend).remote(str(tmp_path / "attempts"), 2)
    refs = [h.which.remote() for _ in range(3)]  # submitted before any constructor ran
    if backend == "ray":
        _ray_constructor_failure_is_final(refs, tmp_path / "attempts", "attempt 1 failed")
        return
    assert actorio.get(h.__ray_ready__.remote(), timeout=WAIT) is True
    assert actorio.get(refs, timeout=WAIT) == [(3, 1), (3, 2), (3, 3)]
    assert actorio.get(h.which.remote(), timeout=WAIT) == (3, 4)
    assert (tmp_path / "attempts").read_text() == "3"


def test_restarts_used_up_fail_every_call_with_the_cause(backend: str, tmp_path: Path) -> None:
    h = Flaky.options(backend=backend).remote(str(tmp_path / "attempts"), 99)
    queued = [h.which.remote(), h.which.remote()]
    if backend == "ray":
        _ray_constructor_failure_is_final(queued, tmp_path / "attempts", "attempt 1 failed")
        return
    reason = actorio.get(actorio.monitor(h), timeout=WAIT)
    assert isinstance(reason, ActorDiedError)
    assert "constructor raised" in str(reason)
    assert (tmp_path / "attempts").read_text() == "3"  # max_restarts=2: three attempts
    for ref in [*queued, h.which.remote(), h.__ray_ready__.remote()]:
        with pytest.raises(ActorDiedError, match="constructor raised") as info:
            actorio.get(ref, timeout=WAIT)
        message = str(info.value)
        assert "Flaky" in message
        assert "Calls to it fail from now on" in message
        cause = info.value.cause
        assert isinstance(cause, ConnectionError)
        assert isinstance(cause, TaskError)
        assert "Flaky.__init__" in str(cause)
        assert "attempt 3 failed" in cause.traceback_str


def test_raising_start_hook_is_a_failed_constructor(backend: str, tmp_path: Path) -> None:
    recovers = FlakyStart.options(backend=backend).remote(str(tmp_path / "a"), 2)
    if backend == "ray":  # the hook runs, and its failure fails the constructor, for good
        refs = [recovers.which.remote()]
        _ray_constructor_failure_is_final(refs, tmp_path / "a", "__actorio_start__")
        _ray_constructor_failure_is_final(refs, tmp_path / "a", "start 1 failed")
        return
    assert actorio.get(recovers.which.remote(), timeout=WAIT) == 3
    never = FlakyStart.options(backend=backend, max_restarts=0).remote(str(tmp_path / "b"), 9)
    with pytest.raises(ActorDiedError, match="__actorio_start__ raised") as info:
        actorio.get(never.which.remote(), timeout=WAIT)
    assert isinstance(info.value.cause, ConnectionError)
    assert "FlakyStart.__actorio_start__" in str(info.value.cause)
    assert "start 1 failed" in info.value.cause.traceback_str
    with pytest.raises(ActorMethodNotFoundError):
        never.__actorio_start__.remote()


def _ray_constructor_failure_is_final(refs: list[Any], tally: Path, says: str) -> None:
    """Ray ends an actor whose constructor raised, whatever its max_restarts: every call
    fails with the constructor's traceback in the message (README, semantics table)."""
    for ref in refs:
        with pytest.raises(ActorDiedError, match="creation task") as info:
            actorio.get(ref, timeout=WAIT)
        assert says in str(info.value)
    assert tally.read_text() == "1"


@pytest.mark.ray_differs(
    "ray.kill ends the process at once: the stop hook does not run, and calls made during the "
    "restart fail (ActorUnavailableError) unless retried"
)
def test_kill_no_restart_false_restarts_until_the_budget_is_used_up(
    backend: str, tmp_path: Path
) -> None:
    log = tmp_path / "life"
    h = SyncLife.options(backend=backend, max_restarts=2).remote(str(log))
    for generation in (1, 2):
        assert actorio.get([h.increment.remote() for _ in range(3)], timeout=WAIT) == [1, 2, 3]
        assert actorio.get(h.generation.remote(), timeout=WAIT) == generation
        actorio.kill(h, no_restart=False)
        assert actorio.get(h.get.remote(), timeout=WAIT) == 0  # fresh state, same handle
    assert actorio.get(h.generation.remote(), timeout=WAIT) == 3
    death = actorio.monitor(h)
    actorio.kill(h, no_restart=False)  # no restarts left
    reason = actorio.get(death, timeout=WAIT)
    assert r"kill(no_restart=False)" in str(reason)
    with pytest.raises(ActorDiedError, match=r"kill\(no_restart=False\)"):
        actorio.get(h.get.remote(), timeout=WAIT)
    # The stop hook ran on each retiring instance before the next was built.
    assert [e for e in lines(log) if not e.startswith("call")] == [
        "init 1",
        "start 1",
        "stop 1",
        "init 2",
        "start 2",
        "stop 2",
        "init 3",
        "start 3",
        "stop 3",
    ]


def test_plain_kill_never_restarts(backend: str, tmp_path: Path) -> None:
    h = SyncLife.options(backend=backend, max_restarts=5).remote(str(tmp_path / "life"))
    assert actorio.get(h.increment.remote(), timeout=WAIT) == 1
    actorio.kill(h)
    with pytest.raises(ActorDiedError, match=r"killed with actorio\.kill\(\)"):
        actorio.get(h.increment.remote(), timeout=WAIT)
    reason = actorio.get(actorio.monitor(h), timeout=WAIT)
    assert "killed with actorio.kill()" in str(reason)
    assert (tmp_path / "life.tally").read_text() == "1"


@pytest.mark.ray_differs("Ray re-sends the calls caught by a restart in its own order")
def test_calls_caught_by_a_restart_are_retried_in_order(backend: str, tmp_path: Path) -> None:
    p = Parker.options(backend=backend, max_task_retries=1).remote(str(tmp_path / "gen"))
    refs = [p.work.remote(tag) for tag in "abcd"]
    assert actorio.get(p.wait_parked.remote(), timeout=WAIT) == ["a", "b"]  # c, d queued
    actorio.kill(p, no_restart=False)
    assert actorio.get(refs, timeout=WAIT) == [(2, "a"), (2, "b"), (2, "c"), (2, "d")]
    # On the new instance: the running calls first (in the order they started), then the
    # queued ones.
    assert actorio.get(p.history.remote(), timeout=WAIT) == (2, ["a", "b", "c", "d"])


@pytest.mark.ray_differs("calls caught by a restart fail with Ray's ActorUnavailableError text")
def test_calls_caught_by_a_restart_without_retries_fail(backend: str, tmp_path: Path) -> None:
    p = Parker.options(backend=backend).remote(str(tmp_path / "gen"))
    refs = [p.work.remote(tag) for tag in "abc"]
    assert actorio.get(p.wait_parked.remote(), timeout=WAIT) == ["a", "b"]
    actorio.kill(p, no_restart=False)
    for ref in refs:
        with pytest.raises(ActorDiedError) as info:
            actorio.get(ref, timeout=WAIT)
        message = str(info.value)
        assert "is restarting" in message
        assert "max_task_retries" in message
        assert "used up" in message
        assert "kill(no_restart=False)" in message
    assert actorio.get(p.work.remote("new"), timeout=WAIT) == (2, "new")


@pytest.mark.ray_differs("Ray applies retries to the calls caught by a restart its own way")
def test_per_call_max_task_retries_survive_a_restart(backend: str, tmp_path: Path) -> None:
    p = Parker.options(backend=backend).remote(str(tmp_path / "gen"))  # no retries of its own
    retried = p.work.options(max_task_retries=1)
    running_retried, running_lost = retried.remote("a"), p.work.remote("b")
    queued_retried, queued_lost = retried.remote("c"), p.work.remote("d")
    assert actorio.get(p.wait_parked.remote(), timeout=WAIT) == ["a", "b"]
    actorio.kill(p, no_restart=False)
    assert actorio.get([running_retried, queued_retried], timeout=WAIT) == [(2, "a"), (2, "c")]
    for ref in (running_lost, queued_lost):
        with pytest.raises(ActorDiedError, match=r"max_task_retries.*used up"):
            actorio.get(ref, timeout=WAIT)
    assert actorio.get(p.history.remote(), timeout=WAIT) == (2, ["a", "c"])


def test_retry_exceptions(backend: str) -> None:
    r = Retrier.options(backend=backend).remote()
    assert actorio.get(r.fail_then_succeed.remote("v", 2, ValueError), timeout=WAIT) == (
        "v ok after 3"
    )
    assert actorio.get(r.fail_then_succeed.remote("b", 1, Boom), timeout=WAIT) == "b ok after 2"
    # Not in the list: not retried.
    with pytest.raises(KeyError, match="k attempt 1"):
        actorio.get(r.fail_then_succeed.remote("k", 2, KeyError), timeout=WAIT)
    assert actorio.get(r.attempts.remote("k"), timeout=WAIT) == 1
    # Retries used up: only the last error reaches the caller.
    with pytest.raises(ValueError, match="z attempt 3") as info:
        actorio.get(r.fail_then_succeed.remote("z", 5, ValueError), timeout=WAIT)
    assert isinstance(info.value, TaskError)
    assert actorio.get(r.attempts.remote("z"), timeout=WAIT) == 3
    # The method's decorator, then per-call options, override the actor's settings.
    with pytest.raises(ValueError, match="d once"):
        actorio.get(r.never_retried.remote("d"), timeout=WAIT)
    assert actorio.get(r.attempts.remote("d"), timeout=WAIT) == 1
    with pytest.raises(ValueError, match="e once"):
        actorio.get(r.never_retried.options(max_task_retries=3).remote("e"), timeout=WAIT)
    assert actorio.get(r.attempts.remote("e"), timeout=WAIT) == 4
    keys_too = r.fail_then_succeed.options(max_task_retries=4, retry_exceptions=[KeyError])
    assert actorio.get(keys_too.remote("q", 4, KeyError), timeout=WAIT) == "q ok after 5"
    no_retry = r.fail_then_succeed.options(retry_exceptions=False)
    with pytest.raises(ValueError, match="n attempt 1"):
        actorio.get(no_retry.remote("n", 1, ValueError), timeout=WAIT)
    assert actorio.get(r.attempts.remote("n"), timeout=WAIT) == 1


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
    with pytest.raises(ActorDiedError, match="is dead: its constructor raised") as died:
        actorio.get(broken.which.remote(), timeout=WAIT)
    assert "create a new actor to continue" in str(died.value)
    assert isinstance(died.value.cause, ConnectionError)
    # Calls to a dead actor fail at once, never wait.
    start = time.monotonic()
    for h in (killed, exited, broken):
        with pytest.raises(ActorDiedError):
            actorio.get(h.__ray_ready__.remote(), timeout=WAIT)
    assert time.monotonic() - start < WAIT / 2


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


@pytest.mark.ray_differs("cancelling a queued Ray actor call is up to Ray (ray.cancel)")
def test_cancel_queued_and_running_calls(backend: str) -> None:
    g = Gate.options(backend=backend).remote()
    holder = g.park.remote("hold")
    actorio.get(g.wait_started.remote(), timeout=WAIT)
    queued = g.record.remote("queued")
    actorio.cancel(queued)
    with pytest.raises(TaskCancelledError, match=CANCELLED_MSG):
        actorio.get(queued, timeout=WAIT)
    actorio.get(g.open.remote(), timeout=WAIT)
    assert actorio.get(holder, timeout=WAIT) == "hold"
    assert actorio.get(g.record.remote("after"), timeout=WAIT) == "after"
    assert actorio.get(g.history.remote(), timeout=WAIT) == [
        ("start", "hold"),
        ("end", "hold"),
        ("ran", "after"),
    ]
    with pytest.raises(TaskCancelledError):  # still cancelled, never overwritten
        actorio.get(queued, timeout=WAIT)

    # A running async method sees CancelledError; its slot is free again.
    g2 = Gate.options(backend=backend).remote()
    running = g2.park.remote("p")
    actorio.get(g2.wait_started.remote(), timeout=WAIT)
    actorio.cancel(running)
    with pytest.raises(TaskCancelledError, match=CANCELLED_MSG):
        actorio.get(running, timeout=WAIT)
    actorio.get(g2.wait_cancelled.remote(), timeout=WAIT)
    assert actorio.get(g2.record.remote("after"), timeout=WAIT) == "after"
    assert actorio.get(g2.history.remote(), timeout=WAIT) == [
        ("start", "p"),
        ("cancelled", "p"),
        ("ran", "after"),
    ]
    done = g2.record.remote("done")
    assert actorio.get(done, timeout=WAIT) == "done"
    actorio.cancel(done)  # a ref that is done is left alone
    assert actorio.get(done, timeout=WAIT) == "done"


async def test_cancel_before_the_call_took_a_step_frees_its_slot(backend: str) -> None:
    g = Gate.options(backend=backend).remote()  # one call at a time
    ref = g.record.remote("x")
    # In-process, the actor is built in the next loop iteration, which creates the task of
    # "x"; the task takes its first step in the iteration after that. Cancel in between.
    # (A worker process may read the driver's cancel just as unluckily.)
    await asyncio.sleep(0)
    actorio.cancel(ref)
    async with asyncio.timeout(WAIT):
        with pytest.raises(TaskCancelledError, match=CANCELLED_MSG):
            await ref
        assert await g.record.remote("y") == "y"  # the slot was freed
        assert ("ran", "y") in await g.history.remote()


@pytest.mark.ray_differs(
    "cancelling a Ray actor call waiting for its arguments is up to Ray (ray.cancel)"
)
def test_cancelled_call_waiting_for_a_ref_argument_never_runs(backend: str) -> None:
    keys = Keys.options(backend=backend).remote()
    c = Counter.options(backend=backend).remote()
    held = c.record.remote(keys.wait_open.remote(9))  # waits for its argument
    actorio.cancel(held)
    with pytest.raises(TaskCancelledError, match=CANCELLED_MSG):
        actorio.get(held, timeout=WAIT)
    assert actorio.pending_calls(c) == 0
    keys.open.remote(9)
    assert actorio.get(c.record.remote("after"), timeout=WAIT) == ["after"]


@pytest.mark.ray_differs(
    "a per-call timeout cancels the Ray task with ray.cancel, which a running sync method does "
    "not see"
)
def test_per_call_timeout(backend: str) -> None:
    g = Gate.options(backend=backend).remote()
    ref = g.park.options(timeout=0.2).remote("t")
    with pytest.raises(CallTimeoutError, match=r"timed out after 0\.2 s and was cancelled") as info:
        actorio.get(ref, timeout=WAIT)
    assert isinstance(info.value, TaskCancelledError)
    assert isinstance(info.value, TimeoutError)
    actorio.get(g.wait_cancelled.remote(), timeout=WAIT)  # the coroutine was cancelled
    assert actorio.get(g.record.remote("after"), timeout=WAIT) == "after"  # alive
    with pytest.raises(CallTimeoutError):  # the timeout of @actorio.method(timeout=0.2)
        actorio.get(g.park_briefly.remote("m"), timeout=WAIT)
    actorio.get(g.wait_cancelled.remote(), timeout=WAIT)
    assert actorio.get(g.history.remote(), timeout=WAIT) == [
        ("start", "t"),
        ("cancelled", "t"),
        ("ran", "after"),
        ("start", "m"),
        ("cancelled", "m"),
    ]


@pytest.mark.ray_differs("Ray counts builtin calls (__ray_ready__) against max_pending_calls")
async def test_backpressure_and_pending_calls(backend: str) -> None:
    keys = Keys.options(backend=backend).remote()
    b = Bounded.options(backend=backend).remote()
    async with asyncio.timeout(WAIT):
        first = b.park.remote(0, keys)
        second = b.park.remote(1, keys)
        assert actorio.pending_calls(b) == 2  # one running (or about to), one queued
        with pytest.raises(PendingCallsLimitExceeded) as info:
            b.quick.remote(2)
        message = str(info.value)
        assert "already has 2 pending calls" in message
        assert "max_pending_calls=2" in message
        assert "await handle.quick.submit(...)" in message
        assert "Bounded" in message
        assert not isinstance(info.value, TaskError)
        assert actorio.pending_calls(b) == 2  # the refused call was not queued
        assert await b.__ray_ready__.remote() is True  # builtin calls are not limited

        waiter = asyncio.create_task(b.quick.submit(3))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiter.done()  # suspended: the mailbox is full
        await keys.open.remote(0)
        assert await first == 0
        third = await waiter  # room again
        assert isinstance(third, actorio.ObjectRef)
        assert actorio.pending_calls(b) == 2
        await keys.open.remote(1)
        assert await second == 1
        assert await third == 3
        assert await b.history.remote() == [0, 1, 3]
        assert actorio.pending_calls(b) == 0

        # Cancelled calls stop counting at once.
        running = b.park.remote(4, keys)
        queued = b.park.remote(5, keys)
        actorio.cancel(queued)
        assert actorio.pending_calls(b) == 1
        fits = b.quick.remote(6)
        await keys.open.remote(4)
        assert await asyncio.gather(running, fits) == [4, 6]
        with pytest.raises(TaskCancelledError):
            await queued
        assert await b.history.remote() == [0, 1, 3, 4, 6]


@pytest.mark.ray_differs(
    "shutdown ends Ray actors with __ray_terminate__; the stop hook's effect is not awaited by "
    "the driver"
)
def test_shutdown_lets_an_in_flight_call_finish(backend: str, tmp_path: Path) -> None:
    log, fifo = tmp_path / "log", tmp_path / "fifo"
    os.mkfifo(fifo)
    d = Draining.options(backend=backend).remote(str(log))
    ref = d.wait_fifo.remote(str(fifo))
    refused: list[BaseException] = []

    def release_once_refused() -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not refused:
            try:
                actorio.get(d.ping.remote(), timeout=WAIT)
            except ActorDiedError as exc:  # shutdown has begun
                refused.append(exc)
        with open(fifo, "w") as w:  # opens once the call is waiting on the other end
            w.write("go")

    helper = threading.Thread(target=release_once_refused)
    helper.start()
    start = time.monotonic()
    actorio.shutdown(timeout=WAIT)
    elapsed = time.monotonic() - start
    helper.join(WAIT)
    assert elapsed < WAIT  # it returned as soon as the call finished
    assert actorio.get(ref, timeout=WAIT) == "finished"
    [refusal] = refused
    assert "shutting down and accepts no new calls" in str(refusal)
    assert "Draining" in str(refusal)
    assert lines(log) == ["finished", "stopped"]  # the stop hook ran after the call
    with pytest.raises(ActorDiedError, match="shutdown"):
        actorio.get(d.ping.remote(), timeout=WAIT)


@pytest.mark.ray_differs(
    "calls still running on Ray at the shutdown deadline end with the driver's loop"
)
def test_shutdown_timeout_fails_calls_that_do_not_finish(backend: str, tmp_path: Path) -> None:
    log = tmp_path / "log"
    s = Stuck.options(backend=backend).remote(str(log))
    ref = s.forever.remote()
    actorio.get(s.wait_started.remote(), timeout=WAIT)
    start = time.monotonic()
    actorio.shutdown(timeout=0.2)
    elapsed = time.monotonic() - start
    assert 0.2 <= elapsed < WAIT
    with pytest.raises(ActorDiedError) as info:
        actorio.get(ref, timeout=WAIT)
    message = str(info.value)
    assert "actorio.shutdown() was called" in message
    assert "pending after its 0.2 s timeout were failed" in message
    assert lines(log) == ["cancelled", "stopped"]
    with pytest.raises(ActorDiedError, match="shutdown"):
        actorio.get(s.ping.remote(), timeout=WAIT)


async def test_supervisor_one_for_one(backend: str, tmp_path: Path) -> None:
    if backend == "ray":
        await _ray_refuses_supervision()
        return
    logs = {name: tmp_path / name for name in "ab"}
    async with asyncio.timeout(WAIT), actorio.supervisor("one_for_one") as sup:
        a = sup.start(SyncLife.options(backend=backend), str(logs["a"]))
        b = sup.start(SyncLife.options(backend=backend), str(logs["b"]))
        assert sup.children == [a, b]
        assert await asyncio.gather(a.increment.remote(), b.increment.remote()) == [1, 1]
        assert await b.increment.remote() == 2
        actorio.kill(a, no_restart=False)  # a failure: only a restarts
        assert await a.get.remote() == 0  # fresh state
        assert await a.generation.remote() == 2
        assert await b.get.remote() == 2  # untouched
        deaths = [actorio.monitor(a), actorio.monitor(b)]
    reasons = await asyncio.gather(*deaths)
    assert all("supervisor stopped" in str(r) for r in reasons)
    # The stop hook ran on the retiring instance before the new one was built.
    assert lines(logs["a"]) == [
        "init 1",
        "start 1",
        "call 1",
        "stop 1",
        "init 2",
        "start 2",
        "stop 2",
    ]
    assert lines(logs["b"]) == ["init 1", "start 1", "call 1", "call 1", "stop 1"]
    with pytest.raises(ActorDiedError, match="supervisor stopped"):
        await a.get.remote()


async def test_supervisor_rest_for_one_and_intentional_ends(backend: str, tmp_path: Path) -> None:
    if backend == "ray":
        await _ray_refuses_supervision()
        return
    logs = {name: tmp_path / name for name in "abc"}
    async with asyncio.timeout(WAIT), actorio.supervisor("rest_for_one") as sup:
        a, b, c = (sup.start(SyncLife.options(backend=backend), str(logs[n])) for n in "abc")
        for h in (a, b, c):
            assert await h.increment.remote() == 1
        actorio.kill(b, no_restart=False)
        # In a worker, b's failure is seen when its process ends; by the time b answers
        # again, the supervisor has restarted c too.
        assert await b.__ray_ready__.remote() is True
        assert await asyncio.gather(a.get.remote(), b.get.remote(), c.get.remote()) == [1, 0, 0]
        assert [await h.generation.remote() for h in (a, b, c)] == [1, 2, 2]
        # An intentional end is not restarted, and touches no sibling.
        watcher = actorio.monitor(c)
        actorio.kill(c)
        assert "killed with actorio.kill()" in str(await watcher)
        assert await asyncio.gather(a.get.remote(), b.get.remote()) == [1, 0]
    assert "stop 1" in lines(logs["a"])
    assert lines(logs["c"])[-2:] == ["start 2", "stop 2"]
    assert (tmp_path / "c.tally").read_text() == "2"


async def test_supervisor_gives_up(backend: str, tmp_path: Path) -> None:
    if backend == "ray":
        await _ray_refuses_supervision()
        return
    children: list[Any] = []

    async def supervise() -> None:
        async with actorio.supervisor(max_restarts=2, within_s=60) as sup:
            children.append(sup.start(SyncLife.options(backend=backend), str(tmp_path / "s")))
            broken = Flaky.options(backend=backend, max_restarts=0)
            children.append(sup.start(broken, str(tmp_path / "attempts"), 99))
            async with asyncio.timeout(WAIT):  # fails the test instead of hanging
                await asyncio.Event().wait()

    with pytest.raises(SupervisorError, match="more than 2 restarts within 60") as info:
        await supervise()
    assert "constructor raised" in str(info.value)
    cause = info.value.cause
    assert isinstance(cause, ActorDiedError)
    assert isinstance(cause.cause, ConnectionError)
    assert "attempt 3 failed" in str(cause.cause)
    assert (tmp_path / "attempts").read_text() == "3"
    sibling, broken_child = children
    with pytest.raises(ActorDiedError, match="supervisor gave up"):
        await sibling.get.remote()
    with pytest.raises(ActorDiedError, match="constructor raised"):
        await broken_child.which.remote()
    assert lines(tmp_path / "s") == ["init 1", "start 1", "stop 1"]


async def _ray_refuses_supervision() -> None:
    """Ray restarts its actors itself (max_restarts): a supervisor refuses them, clearly."""
    async with actorio.supervisor() as sup:
        with pytest.raises(InvalidOptionsError, match="Ray restarts its actors itself"):
            sup.start(Counter.options(backend="ray"))
        assert sup.children == []
