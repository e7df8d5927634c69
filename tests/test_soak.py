"""Soak: thousands of calls from tasks and threads while the actor is killed and restarted
(kill(no_restart=False)) every few hundred executions. Nothing may hang, and with infinite
task retries nothing may be lost."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

import pytest

import actorio
from actorio.exceptions import ActorDiedError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

WAIT = 10.0
DEADLINE = 60.0  # for everything to resolve; a hang fails the test instead of the run
TASKS = 2
THREADS = 2
PER_SUBMITTER = 1500
TOTAL = (TASKS + THREADS) * PER_SUBMITTER
KILL_EVERY = 300
KILLS = 12  # the last kill is due at 3600 executions, well before the last of TOTAL calls


class Shared:
    """What every incarnation writes to: it outlives restarts (passed by reference).
    Only the host loop's thread touches it (the actors run there)."""

    def __init__(self) -> None:
        self.started: Counter[Any] = Counter()  # call id -> times a method began with it
        self.completed: Counter[Any] = Counter()  # call id -> times a method returned
        self.per_generation: Counter[int] = Counter()  # generation -> calls it completed
        self.total_started = 0
        self.generations = 0
        self.target = 0
        self.reached = asyncio.Event()
        self.stop = False
        #: call id -> Event set when that call's first run parks (async actor only)
        self.parked: dict[Any, asyncio.Event] = {}

    def begin(self, call_id: Any) -> None:
        self.started[call_id] += 1
        self.total_started += 1
        if self.total_started >= self.target:
            self.reached.set()

    def finish(self, call_id: Any, generation: int) -> None:
        self.completed[call_id] += 1
        self.per_generation[generation] += 1


class _Soaked:
    def __init__(self, shared: Shared) -> None:
        shared.generations += 1
        self.shared = shared
        self.generation = shared.generations
        self.count = 0

    def inc(self, call_id: Any) -> Any:
        self.shared.begin(call_id)
        self.count += 1
        self.shared.finish(call_id, self.generation)
        return call_id

    def stats(self) -> tuple[int, int]:
        return self.count, self.generation


class _AsyncSoaked(_Soaked):
    async def inc(self, call_id: Any) -> Any:
        shared = self.shared
        shared.begin(call_id)
        parked = shared.parked.get(call_id)
        if parked is not None and shared.started[call_id] == 1:
            parked.set()
            await asyncio.Event().wait()  # parked until the kill catches it in flight
        await asyncio.sleep(0)  # a kill may land here too
        self.count += 1
        self.shared.finish(call_id, self.generation)
        return call_id


async def _soak(kind: str, retries: int) -> tuple[Shared, Any, list[Any], list[Any], int]:
    """Run the soak; return (shared, handle, call ids, outcomes in the same order, kills)."""
    shared = Shared()
    cls = actorio.remote(_Soaked if kind == "regular" else _AsyncSoaked)
    h = cls.options(max_restarts=-1, max_task_retries=retries).remote(shared)
    thread_errors: list[BaseException] = []

    async def submit_from_task(base: int) -> list[tuple[int, Any]]:
        mine = []
        for i in range(base, base + PER_SUBMITTER):
            mine.append((i, h.inc.remote(i)))
            if i % 50 == 0:
                await asyncio.sleep(0)  # let the actor and the killer run
            if i % 250 == 0:
                try:
                    await mine[-1][1]
                except ActorDiedError:
                    pass
        return mine

    def submit_from_thread(base: int, out: list[tuple[int, Any]]) -> None:
        try:
            for i in range(base, base + PER_SUBMITTER):
                out.append((i, h.inc.remote(i)))
                if i % 250 == 0:
                    try:
                        actorio.get(out[-1][1], timeout=WAIT)
                    except ActorDiedError:
                        pass
        except BaseException as exc:  # reported by the test, not lost in the thread
            thread_errors.append(exc)

    kills = 0
    canaries: list[tuple[str, Any]] = []

    async def killer() -> None:
        nonlocal kills
        for k in range(1, KILLS + 1):
            shared.target = k * KILL_EVERY
            if shared.total_started < shared.target:
                shared.reached.clear()
                await shared.reached.wait()
            if shared.stop:
                return
            # Kill a live instance (not one still being rebuilt: calls that never reached an
            # instance wait for the next one for free), with a call queued right before the
            # kill, so that every kill catches at least one call to retry (or fail).
            assert await h.__ray_ready__.remote() is True
            if kind == "async":  # and one call in flight
                name = f"in flight {k}"
                parked = shared.parked[name] = asyncio.Event()
                canaries.append((name, h.inc.remote(name)))
                await parked.wait()
            # With a per-call option, so it is queued: a plain call to the idle actor would
            # run at once (an eager call), before the kill.
            canary = h.inc.options(max_task_retries=retries).remote(f"canary {k}")
            canaries.append((f"canary {k}", canary))
            actorio.kill(h, no_restart=False)
            kills += 1

    thread_out: list[list[tuple[int, Any]]] = [[] for _ in range(THREADS)]
    threads = [
        threading.Thread(target=submit_from_thread, args=((TASKS + t) * PER_SUBMITTER, out))
        for t, out in enumerate(thread_out)
    ]
    async with asyncio.timeout(DEADLINE):
        kill_task = asyncio.create_task(killer())
        for t in threads:
            t.start()
        task_out = await asyncio.gather(
            *(submit_from_task(n * PER_SUBMITTER) for n in range(TASKS))
        )
        for t in threads:
            await asyncio.to_thread(t.join, WAIT)
            assert not t.is_alive()
        assert thread_errors == []
        if retries == -1:
            await kill_task  # every kill is due before the last call can run
        pairs = [p for out in [*task_out, *thread_out] for p in out]
        outcomes = await asyncio.gather(*(r for _, r in pairs), return_exceptions=True)
        shared.stop = True
        shared.reached.set()
        await kill_task
        canary_outcomes = await asyncio.gather(*(r for _, r in canaries), return_exceptions=True)
    ids = [i for i, _ in pairs] + [name for name, _ in canaries]
    all_outcomes = [*outcomes, *canary_outcomes]
    assert len(ids) == TOTAL + kills * (2 if kind == "async" else 1)
    assert len(set(ids)) == len(ids)
    return shared, h, ids, all_outcomes, kills


@pytest.mark.parametrize("kind", ["regular", "async"])
async def test_soak_with_infinite_retries_loses_nothing(kind: str) -> None:
    shared, h, ids, outcomes, kills = await _soak(kind, retries=-1)
    assert kills == KILLS
    failures = [(i, o) for i, o in zip(ids, outcomes, strict=True) if isinstance(o, BaseException)]
    assert failures == []
    assert outcomes == ids  # each call returned its own id
    # every call ran to completion exactly once (a call caught in flight began twice)
    assert set(shared.completed) == set(ids)
    assert all(n == 1 for n in shared.completed.values())
    assert all(shared.started[i] >= 1 for i in ids)
    if kind == "regular":  # sync methods are never caught half-way: nothing ran twice
        assert all(n == 1 for n in shared.started.values())
    else:  # the calls parked in flight were cancelled by the kill and ran again
        for k in range(1, KILLS + 1):
            assert shared.started[f"in flight {k}"] == 2
    async with asyncio.timeout(WAIT):
        count, generation = await h.stats.remote()
    assert generation == shared.generations == KILLS + 1
    # the final instance's state holds exactly the calls it completed
    assert count == shared.per_generation[generation]
    assert sum(shared.per_generation.values()) == len(ids)


@pytest.mark.parametrize("kind", ["regular", "async"])
async def test_soak_without_task_retries_fails_caught_calls_and_never_hangs(kind: str) -> None:
    shared, h, ids, outcomes, kills = await _soak(kind, retries=0)
    assert kills >= 1
    succeeded = [i for i, o in zip(ids, outcomes, strict=True) if not isinstance(o, BaseException)]
    failed = [(i, o) for i, o in zip(ids, outcomes, strict=True) if isinstance(o, BaseException)]
    assert len(succeeded) + len(failed) == len(ids)
    assert len(failed) >= kills  # at least every canary
    for i, err in failed:
        assert isinstance(err, ActorDiedError), (i, err)
        assert "max_task_retries" in str(err)
        assert "used up" in str(err)
    assert {i for i in ids if isinstance(i, str)} <= {i for i, _ in failed}  # the canaries
    for i, value in zip(ids, outcomes, strict=True):
        if not isinstance(value, BaseException):
            assert value == i
    # a call succeeded if and only if it completed, and then exactly once
    assert set(shared.completed) == set(succeeded)
    assert all(n == 1 for n in shared.completed.values())
    if kind == "regular":
        assert set(shared.started) == set(succeeded)  # failed calls never began
    async with asyncio.timeout(WAIT):
        count, generation = await h.stats.remote()
    assert generation == shared.generations == kills + 1
    assert count == shared.per_generation[generation]


# -- thread-hosted actors, driven from plain sync code ---------------------------------------

ACTORS = 20
SYNC_CALLS = 2000


@actorio.remote(max_restarts=-1, max_task_retries=-1)
class Blocking:
    """A regular actor made from sync code: its methods run (and block) on a thread."""

    def work(self, i: int) -> int:
        time.sleep(0.001)
        return i


def _soak_threads(retries: int) -> tuple[list[int], int, int]:
    """2,000 calls from 4 threads over 20 thread-hosted actors while a fifth thread keeps
    killing and restarting them; returns the values read, how many calls died, and how
    many restarts there were."""
    cls = Blocking.options(max_task_retries=retries)
    actors = [cls.remote() for _ in range(ACTORS)]
    refs: list[list[Any]] = [[] for _ in range(4)]
    done = threading.Event()

    def submit(k: int) -> None:
        for i in range(k, SYNC_CALLS, 4):
            refs[k].append((i, actors[i % ACTORS].work.remote(i)))

    def killer() -> None:
        n = 0
        while not done.wait(0.005):
            actorio.kill(actors[n % ACTORS], no_restart=False)
            n += 1

    chaos = threading.Thread(target=killer)
    chaos.start()
    submitters = [threading.Thread(target=submit, args=(k,)) for k in range(4)]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join(DEADLINE)
    values, died = [], 0
    try:
        for i, ref in (pair for chunk in refs for pair in chunk):
            try:
                value = actorio.get(ref, timeout=DEADLINE)
            except ActorDiedError:
                died += 1
            else:
                assert value == i
                values.append(value)
    finally:
        done.set()
        chaos.join(WAIT)
    restarts = 0
    for a in actors:
        state = actorio.util.state.get_actor(a)
        restarts += state.restarts if state is not None else 0
    return values, died, restarts


def _no_worker_thread_left() -> list[str]:
    deadline = time.monotonic() + WAIT
    for t in threading.enumerate():
        if t.name.startswith("actorio-"):
            t.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threading.enumerate() if t.name.startswith("actorio-")]


def test_soak_thread_hosted_actors_with_retries_lose_nothing() -> None:
    values, died, restarts = _soak_threads(retries=-1)
    assert restarts >= ACTORS  # every actor was restarted while calls ran
    assert died == 0
    assert sorted(values) == list(range(SYNC_CALLS))
    actorio.shutdown()
    assert _no_worker_thread_left() == []


def test_soak_thread_hosted_actors_without_retries_resolve_every_ref() -> None:
    values, died, restarts = _soak_threads(retries=0)
    assert restarts >= ACTORS
    assert len(values) + died == SYNC_CALLS  # every ref resolved, one way or the other
    assert died > 0  # the kills did catch calls
    actorio.shutdown()
    assert _no_worker_thread_left() == []
