"""Restarts (max_restarts), readiness (__ray_ready__) and task retries (max_task_retries,
retry_exceptions) of actors, and retries of remote functions.

Tests that take the ``backend`` fixture run on every backend; the others count constructor
attempts or hold a call open with objects shared in-process."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from _actors import (
    WAIT,
    Boom,
    Counter,
    Flaky,
    SyncLife,
    lines,
    ray_constructor_failure_is_final,
    tally,
)

import actorio
from actorio.exceptions import ActorDiedError, TaskError

STUCK_WAIT = 3.0


async def _wait_thread_event(event: threading.Event) -> None:
    """Wait for a threading.Event without blocking the loop (bounded by WAIT)."""
    assert await asyncio.to_thread(event.wait, WAIT), "timed out waiting for a thread"


# -- restarts after a failing constructor --------------------------------------------------------


def test_calls_submitted_while_restarting_run_on_the_new_instance() -> None:
    # A threaded actor builds on a worker thread, so each constructor attempt can be held
    # open while the test submits calls: before the first attempt finishes, and while the
    # actor is restarting (the second attempt is running).
    started = [threading.Event() for _ in range(3)]
    release = [threading.Event() for _ in range(3)]
    attempts: list[int] = []

    @actorio.remote(max_restarts=2, max_concurrency=2)
    class Gated:
        def __init__(self) -> None:
            n = len(attempts)
            attempts.append(n)
            started[n].set()
            assert release[n].wait(WAIT)
            if n < 2:
                raise ValueError(f"attempt {n} refused")
            self.n = n

        def which(self, tag: str) -> tuple[str, int]:
            return tag, self.n

    h = Gated.remote()
    assert started[0].wait(WAIT)
    before = h.which.remote("before")
    release[0].set()
    assert started[1].wait(WAIT)  # restarting now
    during = h.which.remote("during")
    release[1].set()
    assert started[2].wait(WAIT)
    during2 = h.which.remote("during2")
    release[2].set()
    assert actorio.get([before, during, during2], timeout=WAIT) == [
        ("before", 2),
        ("during", 2),
        ("during2", 2),
    ]
    assert actorio.get(h.which.remote("after"), timeout=WAIT) == ("after", 2)
    assert attempts == [0, 1, 2]


async def test_infinite_restarts_until_the_constructor_succeeds() -> None:
    attempts: list[int] = []

    @actorio.remote(max_restarts=-1)
    class Stubborn:
        def __init__(self) -> None:
            attempts.append(1)
            if len(attempts) <= 5:
                raise OSError(f"not yet ({len(attempts)})")

        def attempts(self) -> int:
            return len(attempts)

    s = Stubborn.remote()
    async with asyncio.timeout(WAIT):
        assert await s.__ray_ready__.remote() is True
        assert await s.attempts.remote() == 6
    assert len(attempts) == 6


def test_constructor_restarts_then_serves_earlier_calls(backend: str, tmp_path: Path) -> None:
    h = Flaky.options(backend=backend).remote(str(tmp_path / "attempts"), 2)
    refs = [h.which.remote() for _ in range(3)]  # submitted before any constructor ran
    if backend == "ray":
        ray_constructor_failure_is_final(refs, tmp_path / "attempts", "attempt 1 failed")
        return
    assert actorio.get(h.__ray_ready__.remote(), timeout=WAIT) is True
    assert actorio.get(refs, timeout=WAIT) == [(3, 1), (3, 2), (3, 3)]
    assert actorio.get(h.which.remote(), timeout=WAIT) == (3, 4)
    assert (tmp_path / "attempts").read_text() == "3"


def test_restarts_used_up_fail_every_call_with_the_cause(backend: str, tmp_path: Path) -> None:
    h = Flaky.options(backend=backend).remote(str(tmp_path / "attempts"), 99)
    queued = [h.which.remote(), h.which.remote()]
    if backend == "ray":
        ray_constructor_failure_is_final(queued, tmp_path / "attempts", "attempt 1 failed")
        return
    reason = actorio.get(actorio.monitor(h), timeout=WAIT)
    assert isinstance(reason, ActorDiedError)
    assert "constructor raised" in str(reason)
    assert (tmp_path / "attempts").read_text() == "3"  # max_restarts=2: three attempts
    refs: list[actorio.ObjectRef[Any]] = [*queued, h.which.remote(), h.__ray_ready__.remote()]
    for ref in refs:
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


# -- kill(no_restart=False), kill, exit_actor ----------------------------------------------------


@actorio.remote(max_restarts=1)
class Reborn:
    def reconstructed(self) -> bool:
        return actorio.get_runtime_context().was_current_actor_reconstructed()


@pytest.mark.ray_differs(
    "Ray's own was_current_actor_reconstructed, which actorio passes on, stays False after "
    "ray.kill(no_restart=False); and calls fail while Ray restarts the actor"
)
def test_a_restarted_instance_knows_it_was_reconstructed(backend: str) -> None:
    h = Reborn.options(backend=backend).remote()
    assert actorio.get(h.reconstructed.remote(), timeout=WAIT) is False
    actorio.kill(h, no_restart=False)
    assert actorio.get(h.reconstructed.remote(), timeout=WAIT) is True
    assert actorio.get_runtime_context().was_current_actor_reconstructed() is False  # no actor


@actorio.remote
class Counted:
    def __init__(self, inits: list[int]) -> None:
        inits.append(1)
        self.inits = inits
        self.count = 0

    def increment(self) -> int:
        self.count += 1
        return self.count

    def quit(self) -> None:
        actorio.exit_actor()


async def test_exit_actor_never_restarts() -> None:
    inits: list[int] = []
    c = Counted.options(max_restarts=-1, max_task_retries=-1).remote(inits)
    async with asyncio.timeout(WAIT):
        assert await c.increment.remote() == 1
        exiting = c.quit.remote()
        behind = c.increment.remote()
        for ref in (exiting, behind, c.increment.remote()):
            with pytest.raises(ActorDiedError, match="exit_actor"):
                await ref
        reason = await actorio.monitor(c)
    assert "exit_actor" in str(reason)
    assert inits == [1]


async def test_ray_terminate_never_restarts() -> None:
    inits: list[int] = []
    c = Counted.options(max_restarts=-1).remote(inits)
    first = c.increment.remote()
    c.__ray_terminate__.remote()
    async with asyncio.timeout(WAIT):
        assert await first == 1
        await actorio.monitor(c)
        with pytest.raises(ActorDiedError):
            await c.increment.remote()
    assert inits == [1]


@pytest.mark.parametrize("mode", ["regular", "threaded"])
async def test_back_to_back_restarts_leave_one_consistent_instance(mode: str) -> None:
    inits: list[int] = []
    stops: list[int] = []

    @actorio.remote(max_restarts=-1, mode=mode)
    class Gen:
        def __init__(self) -> None:
            inits.append(1)
            self.gen = len(inits)
            self.n = 0

        def __actorio_stop__(self) -> None:
            stops.append(self.gen)

        def inc(self) -> tuple[int, int]:
            self.n += 1
            return self.gen, self.n

    g = Gen.remote()
    async with asyncio.timeout(WAIT):
        assert await g.inc.remote() == (1, 1)
        actorio.kill(g, no_restart=False)
        actorio.kill(g, no_restart=False)  # before the first restart has rebuilt it
        results = [await g.inc.remote() for _ in range(3)]
        assert await g.__ray_ready__.remote() is True
        results.append(await g.inc.remote())
    gen = results[0][0]
    # one live instance whose state carries over from call to call ...
    assert results == [(gen, 1), (gen, 2), (gen, 3), (gen, 4)]
    # ... and every other instance that was built was retired with its stop hook
    assert len(inits) == gen
    assert stops == list(range(1, gen))


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


# -- readiness --------------------------------------------------------------------------------


async def test_ready_waits_for_a_slow_async_start_hook() -> None:
    entered = asyncio.Event()
    gate = asyncio.Event()
    events: list[str] = []

    @actorio.remote
    class Slow:
        def __init__(self) -> None:
            events.append("init")

        async def __actorio_start__(self) -> None:
            events.append("start begins")
            entered.set()
            await gate.wait()
            events.append("start ends")

        def ping(self) -> str:
            return "pong"

    s = Slow.remote()
    ready = s.__ray_ready__.remote()
    call = s.ping.remote()
    async with asyncio.timeout(WAIT):
        await entered.wait()
        assert not ready.done()
        assert not call.done()
        gate.set()
        assert await ready is True
        events.append("ready")
        assert await call == "pong"
    assert events == ["init", "start begins", "start ends", "ready"]


async def test_ready_is_not_blocked_by_a_busy_default_lane() -> None:
    started, release = threading.Event(), threading.Event()

    @actorio.remote(mode="threaded", max_concurrency=1)
    class Busy:
        def block(self) -> str:
            started.set()
            assert release.wait(WAIT)
            return "released"

    b = Busy.remote()
    blocked = b.block.remote()
    queued = b.block.remote()
    try:
        await _wait_thread_event(started)
        async with asyncio.timeout(WAIT):
            assert await b.__ray_ready__.remote() is True
        assert not blocked.done()
        assert not queued.done()
    finally:
        release.set()
    async with asyncio.timeout(WAIT):
        assert list(await asyncio.gather(blocked, queued)) == ["released", "released"]


async def test_ready_after_a_restart_waits_for_the_new_instance() -> None:
    inits: list[int] = []
    c = Counted.options(max_restarts=1).remote(inits)
    async with asyncio.timeout(WAIT):
        assert await c.__ray_ready__.remote() is True
        actorio.kill(c, no_restart=False)
        assert await c.__ray_ready__.remote() is True
        assert inits == [1, 1]


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


# -- retries of calls caught by a restart -------------------------------------------------------


async def test_threaded_calls_in_flight_and_queued_are_retried_in_order() -> None:
    inits: list[int] = []
    log: list[tuple[int, str]] = []
    started, release = threading.Event(), threading.Event()

    @actorio.remote(mode="threaded", max_concurrency=1, max_restarts=1, max_task_retries=2)
    class Blocker:
        def __init__(self) -> None:
            inits.append(1)
            self.gen = len(inits)

        def work(self, tag: str) -> tuple[int, str]:
            log.append((self.gen, tag))
            if self.gen == 1:
                started.set()
                assert release.wait(WAIT)
            return self.gen, tag

    b = Blocker.remote()
    refs = [b.work.remote(tag) for tag in ("a", "b", "c")]
    await _wait_thread_event(started)
    actorio.kill(b, no_restart=False)
    release.set()  # the old thread cannot be interrupted; let it finish (result dropped)
    async with asyncio.timeout(WAIT):
        assert await asyncio.gather(*refs) == [(2, "a"), (2, "b"), (2, "c")]
    assert log == [(1, "a"), (2, "a"), (2, "b"), (2, "c")]


async def test_restarted_threaded_actor_serves_while_an_old_call_is_stuck() -> None:
    # The first instance's call cannot be interrupted; the new instance must not wait for it.
    started, release = threading.Event(), threading.Event()
    inits: list[int] = []

    @actorio.remote(mode="threaded", max_concurrency=1, max_restarts=1)
    class Stuck:
        def __init__(self) -> None:
            inits.append(1)
            self.gen = len(inits)

        def work(self) -> int:
            if self.gen == 1:
                started.set()
                assert release.wait(WAIT)
            return self.gen

    s = Stuck.remote()
    stuck = s.work.remote()
    try:
        await _wait_thread_event(started)
        actorio.kill(s, no_restart=False)
        with pytest.raises(ActorDiedError, match="retries"):
            await asyncio.wait_for(stuck, WAIT)
        # A short bound on purpose: nothing else runs, so a healthy actor answers at once.
        async with asyncio.timeout(STUCK_WAIT):
            assert await s.__ray_ready__.remote() is True
            assert await s.work.remote() == 2
        assert inits == [1, 1]
    finally:
        release.set()


async def test_task_retries_are_counted_across_restarts() -> None:
    inits: list[int] = []
    runs: list[tuple[int, str]] = []
    parked = asyncio.Event()

    @actorio.remote(max_restarts=3, max_task_retries=1)
    class Parker:
        def __init__(self) -> None:
            inits.append(1)
            self.gen = len(inits)

        async def park(self, tag: str) -> int:
            runs.append((self.gen, tag))
            parked.set()
            await asyncio.Event().wait()  # only a kill ends it
            return self.gen

        async def gen_(self) -> int:
            return self.gen

    p = Parker.remote()
    ref = p.park.remote("x")
    async with asyncio.timeout(WAIT):
        await parked.wait()
        parked.clear()
        actorio.kill(p, no_restart=False)  # caught once: retried on generation 2
        await parked.wait()
        assert not ref.done()
        actorio.kill(p, no_restart=False)  # caught again: its one retry is used up
        with pytest.raises(ActorDiedError, match="used up"):
            await ref
        assert await p.gen_.remote() == 3
    assert runs == [(1, "x"), (2, "x")]


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


@actorio.remote(max_restarts=2, max_task_retries=1)
class FlakyBuilder:
    def __init__(self, tally: str, failures: int) -> None:
        path = Path(tally)
        built = int(path.read_text() or 0) + 1 if path.exists() else 1
        path.write_text(str(built))
        if built <= failures:
            raise ConnectionError(f"attempt {built} failed")
        self.built = built

    def attempt(self) -> int:
        return self.built

    async def slow(self, seconds: float) -> int:
        await asyncio.sleep(seconds)
        return self.built


def test_restart_retries_the_call_in_flight(backend: str, tmp_path: Path) -> None:
    """The one retry-after-restart check that also runs unmarked on Ray."""
    f = FlakyBuilder.options(backend=backend).remote(str(tmp_path / "t"), 0)
    assert actorio.get(f.attempt.remote(), timeout=WAIT) == 1
    ref = f.slow.remote(0.5)  # queued or already running: retried on the new instance either way
    actorio.kill(f, no_restart=False)
    assert actorio.get(ref, timeout=WAIT) == 2  # rebuilt once, retried there


# -- retry_exceptions ---------------------------------------------------------------------------


@actorio.remote(max_task_retries=2, retry_exceptions=True)
class FlakyCalls:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def fail_then_succeed(self, key: str, failures: int, exc: type[Exception]) -> str:
        n = self.calls[key] = self.calls.get(key, 0) + 1
        if n <= failures:
            raise exc(f"{key} attempt {n}")
        return f"{key} ok after {n}"

    async def afail_then_succeed(self, key: str, failures: int, exc: type[Exception]) -> str:
        n = self.calls[key] = self.calls.get(key, 0) + 1
        await asyncio.sleep(0)
        if n <= failures:
            raise exc(f"{key} attempt {n}")
        return f"{key} ok after {n}"

    def attempts(self, key: str) -> int:
        return self.calls.get(key, 0)

    @actorio.method(max_task_retries=0)
    def never_retried(self, key: str) -> None:
        self.calls[key] = self.calls.get(key, 0) + 1
        raise ValueError(f"{key} once")


@actorio.remote(max_concurrency=2)
class ThreadedFlaky:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def fail_then_succeed(self, key: str, failures: int, exc: type[Exception]) -> str:
        n = self.calls[key] = self.calls.get(key, 0) + 1
        if n <= failures:
            raise exc(f"{key} attempt {n}")
        return f"{key} ok after {n}"

    def attempts(self, key: str) -> int:
        return self.calls.get(key, 0)


async def test_retry_exceptions_true_reruns_until_success() -> None:
    f = FlakyCalls.remote()
    async with asyncio.timeout(WAIT):
        assert await f.fail_then_succeed.remote("k", 2, ValueError) == "k ok after 3"
        assert await f.afail_then_succeed.remote("a", 2, KeyError) == "a ok after 3"
        with pytest.raises(ValueError, match="z attempt 3") as info:
            await f.fail_then_succeed.remote("z", 5, ValueError)
        assert isinstance(info.value, TaskError)
        assert await f.attempts.remote("z") == 3  # the first run and two retries


async def test_retry_rerun_goes_before_calls_queued_behind_it() -> None:
    f = FlakyCalls.remote()
    order: list[actorio.ObjectRef[Any]] = [
        f.fail_then_succeed.remote("x", 2, ValueError),
        f.attempts.remote("x"),
    ]
    async with asyncio.timeout(WAIT):
        assert await asyncio.gather(*order) == ["x ok after 3", 3]


async def test_threaded_actor_retries_exceptions() -> None:
    t = ThreadedFlaky.options(max_task_retries=3, retry_exceptions=(LookupError,)).remote()
    async with asyncio.timeout(WAIT):
        assert await t.fail_then_succeed.remote("i", 3, IndexError) == "i ok after 4"
        with pytest.raises(ZeroDivisionError):
            await t.fail_then_succeed.remote("z", 1, ZeroDivisionError)
        assert await t.attempts.remote("z") == 1


async def test_per_call_options_override_the_actor() -> None:
    plain = ThreadedFlaky.remote()  # no retries of its own
    async with asyncio.timeout(WAIT):
        with pytest.raises(ValueError, match="p attempt 1"):
            await plain.fail_then_succeed.remote("p", 1, ValueError)
        retried = plain.fail_then_succeed.options(max_task_retries=2, retry_exceptions=True)
        assert await retried.remote("q", 2, ValueError) == "q ok after 3"
        only_keys = plain.fail_then_succeed.options(
            max_task_retries=-1, retry_exceptions=[KeyError]
        )
        with pytest.raises(ValueError):
            await only_keys.remote("r", 1, ValueError)
        assert await plain.attempts.remote("r") == 1

    eager = FlakyCalls.remote()  # max_task_retries=2, retry_exceptions=True
    async with asyncio.timeout(WAIT):
        with pytest.raises(ValueError, match="n attempt 1"):
            await eager.fail_then_succeed.options(max_task_retries=0).remote("n", 1, ValueError)
        with pytest.raises(ValueError, match="m attempt 1"):
            await eager.fail_then_succeed.options(retry_exceptions=False).remote("m", 1, ValueError)
        assert await eager.attempts.remote("n") == 1
        assert await eager.attempts.remote("m") == 1
        more = eager.fail_then_succeed.options(max_task_retries=4)
        assert await more.remote("o", 4, ValueError) == "o ok after 5"


async def test_method_decorator_overrides_the_actor() -> None:
    f = FlakyCalls.remote()  # would retry twice
    async with asyncio.timeout(WAIT):
        with pytest.raises(ValueError, match="d once"):
            await f.never_retried.remote("d")
        assert await f.attempts.remote("d") == 1
        # and a per-call option beats the decorator
        with pytest.raises(ValueError, match="e once"):
            await f.never_retried.options(max_task_retries=3).remote("e")
        assert await f.attempts.remote("e") == 4

    @actorio.remote
    class Decorated:
        def __init__(self) -> None:
            self.n = 0

        @actorio.method(max_task_retries=2, retry_exceptions=[ValueError])
        def flaky(self) -> int:
            self.n += 1
            if self.n < 3:
                raise ValueError(f"try {self.n}")
            return self.n

    d = Decorated.remote()
    async with asyncio.timeout(WAIT):
        assert await d.flaky.remote() == 3


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


# -- remote functions -----------------------------------------------------------------------------


def _flaky_function(counter: list[int], failures: int, exc: type[Exception]) -> str:
    counter.append(1)
    if len(counter) <= failures:
        raise exc(f"attempt {len(counter)}")
    return f"ok after {len(counter)}"


@actorio.remote
def flaky_sync(counter: list[int], failures: int, exc: type[Exception]) -> str:
    return _flaky_function(counter, failures, exc)


@actorio.remote
async def flaky_async(counter: list[int], failures: int, exc: type[Exception]) -> str:
    await asyncio.sleep(0)
    return _flaky_function(counter, failures, exc)


@pytest.mark.parametrize("fn", [flaky_sync, flaky_async], ids=["def", "async_def"])
async def test_remote_function_retries(fn: Any) -> None:
    async with asyncio.timeout(WAIT):
        counter: list[int] = []
        retried = fn.options(retry_exceptions=True, max_retries=2)
        assert await retried.remote(counter, 2, ValueError) == "ok after 3"
        assert len(counter) == 3

        counter = []
        with pytest.raises(ValueError, match="attempt 3") as info:
            await retried.remote(counter, 3, ValueError)
        assert isinstance(info.value, TaskError)
        assert len(counter) == 3

        counter = []  # retry_exceptions alone: Ray's default of 3 retries
        with pytest.raises(ValueError, match="attempt 4"):
            await fn.options(retry_exceptions=True).remote(counter, 10, ValueError)
        assert len(counter) == 4

        counter = []
        assert await fn.options(retry_exceptions=True).remote(counter, 3, ValueError) == (
            "ok after 4"
        )

        counter = []  # not a matching type: no retry
        with pytest.raises(KeyError):
            await fn.options(retry_exceptions=[ValueError]).remote(counter, 1, KeyError)
        assert len(counter) == 1

        counter = []  # max_retries alone changes nothing in-process
        with pytest.raises(ValueError, match="attempt 1"):
            await fn.options(max_retries=5).remote(counter, 1, ValueError)
        assert len(counter) == 1
