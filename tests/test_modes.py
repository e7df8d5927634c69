"""The three concurrency modes, concurrency groups, and mode inference errors.

Tests that take the ``backend`` fixture run on every backend; the others share a ``Probe`` with
the actor by reference, which only an in-process actor can do."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from _actors import WAIT

import actorio
from actorio.exceptions import InvalidOptionsError


@dataclass
class Probe:
    """Shared with the actor by reference (in-process arguments are not copied)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    peak: int = 0
    log: list[Any] = field(default_factory=list)

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


# -- regular ------------------------------------------------------------------------------------


@actorio.remote
class Recorder:
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.threads: set[int] = set()

    def record(self, seq: int) -> None:
        self.seen.append(seq)
        self.threads.add(threading.get_ident())

    def seen_list(self) -> list[int]:
        return self.seen

    def thread_ids(self) -> set[int]:
        return self.threads


def test_regular_calls_start_in_submission_order_across_threads() -> None:
    rec = Recorder.remote()
    order = itertools.count()
    submit_lock = threading.Lock()
    start = threading.Barrier(8)

    def caller() -> None:
        start.wait(WAIT)
        for _ in range(300):
            with submit_lock:  # makes the submission order known: seq order
                rec.record.remote(next(order))

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    seen = actorio.get(rec.seen_list.remote(), timeout=WAIT)
    assert seen == list(range(2400))


async def test_regular_actor_runs_on_the_loop_that_created_it() -> None:
    rec = Recorder.remote()
    await asyncio.gather(*(rec.record.remote(i) for i in range(10)))
    # ... and from another thread, calls still run on the host loop's thread.
    await asyncio.to_thread(lambda: actorio.get(rec.record.remote(10), timeout=WAIT))
    assert await rec.thread_ids.remote() == {threading.get_ident()}
    assert await rec.seen_list.remote() == list(range(11))


async def test_regular_actor_interleaves_nothing() -> None:
    @actorio.remote
    class Serial:
        def __init__(self, probe: Probe) -> None:
            self.probe = probe

        def work(self, i: int) -> int:
            self.probe.enter()
            self.probe.log.append(i)
            self.probe.leave()
            return i

    probe = Probe()
    s = Serial.remote(probe)
    assert await asyncio.gather(*(s.work.remote(i) for i in range(100))) == list(range(100))
    assert probe.peak == 1
    assert probe.log == list(range(100))


# -- async --------------------------------------------------------------------------------------


@actorio.remote
class Gate:
    """Async actor whose calls park on an event the test controls."""

    def __init__(
        self, probe: Probe, target: int, reached: asyncio.Event, go: asyncio.Event
    ) -> None:
        self.probe = probe
        self.target = target
        self.reached = reached
        self.go = go

    async def hold(self, i: int) -> int:
        self.probe.enter()
        if self.probe.in_flight == self.target:
            self.reached.set()
        await self.go.wait()
        self.probe.leave()
        return i

    def peak(self) -> int:  # sync method of an async actor: runs on the loop, between awaits
        return self.probe.peak


async def test_async_actor_runs_up_to_1000_calls_at_once_by_default() -> None:
    """The bound itself is checked on every backend (max_concurrency=3, below); this is the
    default, Ray's 1000 for async actors, with 1200 calls in-process (cheap here)."""
    calls, expected = 1200, 1000
    probe, reached, go = Probe(), asyncio.Event(), asyncio.Event()
    g = Gate.remote(probe, expected, reached, go)
    refs = [g.hold.remote(i) for i in range(calls)]
    async with asyncio.timeout(WAIT):
        await reached.wait()
    for _ in range(20):  # let anything that could wrongly start, start
        await asyncio.sleep(0)
    assert probe.in_flight == expected
    go.set()
    assert await asyncio.gather(*refs) == list(range(calls))
    assert probe.peak == expected
    assert await g.peak.remote() == expected


async def test_sync_method_of_async_actor_runs_on_loop_and_warns_when_slow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actorio.init(blocking_warning_s=0.05)

    @actorio.remote
    class Mixed:
        async def ping(self) -> str:
            return "pong"

        def slow(self) -> int:
            time.sleep(0.5)  # the point of the test: a method that blocks the loop
            return threading.get_ident()

    m = Mixed.remote()
    with caplog.at_level(logging.WARNING, logger="actorio"):
        assert await m.ping.remote() == "pong"
        assert await m.slow.remote() == threading.get_ident()
    assert await m.ping.remote() == "pong"
    [record] = [r for r in caplog.records if r.name == "actorio"]
    message = record.getMessage()
    assert "Mixed.slow has blocked the event loop" in message
    assert "threaded" in message


async def test_watchdog_names_a_blocking_async_method(caplog: pytest.LogCaptureFixture) -> None:
    actorio.init(blocking_warning_s=0.05)

    @actorio.remote
    class Stuck:
        async def nap(self) -> None:
            await asyncio.sleep(0)
            time.sleep(0.5)  # a blocking call inside a coroutine

    s = Stuck.remote()
    with caplog.at_level(logging.WARNING, logger="actorio"):
        await s.nap.remote()
    messages = [r.getMessage() for r in caplog.records if r.name == "actorio"]
    assert len(messages) == 1
    assert messages[0].startswith("Stuck.nap has blocked the event loop")


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


# -- threaded -----------------------------------------------------------------------------------


def test_threaded_with_one_thread_keeps_order_off_the_loop() -> None:
    rec = Recorder.options(mode="threaded").remote()
    actorio.get([rec.record.remote(i) for i in range(200)], timeout=WAIT)
    assert actorio.get(rec.seen_list.remote()) == list(range(200))
    [ident] = actorio.get(rec.thread_ids.remote())
    assert ident != threading.get_ident()


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


def test_threaded_actor_runs_max_concurrency_calls_at_once(backend: str) -> None:
    p = Pool.options(backend=backend).remote(4)
    names = actorio.get([p.meet.remote() for _ in range(8)], timeout=WAIT)
    assert len(set(names)) == 4
    if backend != "ray":  # Ray names its threads itself
        assert all(n.startswith("actorio-worker-") for n in names)
    assert actorio.get(p.peak_seen.remote(), timeout=WAIT) == 4
    two = Pool.options(backend=backend, max_concurrency=2).remote(2)
    assert len(actorio.get([two.meet.remote() for _ in range(6)], timeout=WAIT)) == 6
    assert actorio.get(two.peak_seen.remote(), timeout=WAIT) == 2  # never more than its limit


# -- concurrency groups -------------------------------------------------------------------------


@actorio.remote(concurrency_groups={"io": 2, "compute": 1})
class Partitioned:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    @actorio.method(concurrency_group="io")
    def fetch(self, barrier: threading.Barrier) -> str:
        barrier.wait(WAIT)
        return "fetched"

    @actorio.method(concurrency_group="compute")
    def crunch(self, event: threading.Event) -> str:
        self.probe.enter()
        try:
            assert event.wait(WAIT)
        finally:
            self.probe.leave()
        return "crunched"

    def default(self, event: threading.Event) -> str:
        assert event.wait(WAIT)
        return "default"


async def test_groups_have_their_own_limits_and_do_not_block_each_other() -> None:
    probe = Probe()
    g = Partitioned.remote(probe)
    release = threading.Event()
    # The default group (max_concurrency=1) and 'compute' (1) are both busy...
    busy = [g.default.remote(release), g.crunch.remote(release), g.crunch.remote(release)]
    # ... yet two 'io' calls run together (a two-party barrier would time out otherwise).
    barrier = threading.Barrier(2)
    assert list(await asyncio.gather(g.fetch.remote(barrier), g.fetch.remote(barrier))) == [
        "fetched",
        "fetched",
    ]
    # A default-group method moved into 'io' for one call also runs while the others block.
    other = threading.Event()
    other.set()
    assert await g.default.options(concurrency_group="io").remote(other) == "default"
    release.set()
    assert await asyncio.gather(*busy) == ["default", "crunched", "crunched"]
    assert probe.peak == 1  # 'compute' never ran two at once


async def test_async_actor_with_concurrency_groups() -> None:
    @actorio.remote(concurrency_groups={"slow": 1})
    class A:
        def __init__(self, go: asyncio.Event) -> None:
            self.go = go

        @actorio.method(concurrency_group="slow")
        async def wait_for_go(self) -> str:
            await self.go.wait()
            return "went"

        async def quick(self) -> str:
            return "quick"

    go = asyncio.Event()
    a = A.remote(go)
    slow = [a.wait_for_go.remote(), a.wait_for_go.remote()]
    assert await a.quick.remote() == "quick"  # the default group is not held up
    go.set()
    assert await asyncio.gather(*slow) == ["went", "went"]


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


# -- inference and impossible choices -----------------------------------------------------------


def test_impossible_mode_choices_fail_at_creation() -> None:
    class HasAsync:
        async def f(self) -> None: ...

    class AllSync:
        def f(self) -> None: ...

    with pytest.raises(InvalidOptionsError, match="async def methods"):
        actorio.remote(mode="threaded")(HasAsync)
    with pytest.raises(InvalidOptionsError, match="cannot be a regular actor"):
        actorio.remote(HasAsync).options(mode="regular")
    with pytest.raises(InvalidOptionsError, match="needs at least one async def"):
        actorio.remote(mode="async")(AllSync)
    with pytest.raises(InvalidOptionsError, match="one call at a time"):
        actorio.remote(mode="regular", max_concurrency=2)(AllSync)
    with pytest.raises(InvalidOptionsError, match="positive int"):
        actorio.remote(max_concurrency=0)(AllSync)
    with pytest.raises(InvalidOptionsError, match="mode must be"):
        actorio.remote(mode="parallel")(AllSync)


def test_method_in_undeclared_group_is_an_error() -> None:
    class C:
        @actorio.method(concurrency_group="io")
        def f(self) -> None: ...

    with pytest.raises(InvalidOptionsError, match="concurrency_groups=\\{'io': N\\}"):
        actorio.remote(max_concurrency=2)(C)
    ok = actorio.remote(concurrency_groups={"io": 1})(C).remote()
    with pytest.raises(InvalidOptionsError, match="no concurrency group 'nope'"):
        ok.f.options(concurrency_group="nope")
