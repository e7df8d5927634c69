"""What an in-process actor keeps once it has served calls and gone idle: its lane's deque
goes back a second later, and the state API still reads its counters and latency."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import actorio
from actorio._mailbox import NO_CALLS, RELEASE_S
from actorio._stats import CallStats
from actorio.util.state import get_actor

WAIT = 20.0


@actorio.remote
class Tally:
    def __init__(self) -> None:
        self.n = 0

    def inc(self, by: int) -> int:
        time.sleep(0.001)  # long enough to show up as a latency
        self.n += by
        return self.n


async def _until_released(handle: actorio.ActorHandle[Tally]) -> None:
    lane = handle._actorio_actor.lanes[0]  # type: ignore[attr-defined]
    deadline = time.monotonic() + RELEASE_S + WAIT
    while lane.queue is not NO_CALLS:
        assert time.monotonic() < deadline, "the idle lane kept its deque"
        await asyncio.sleep(0.05)


async def test_an_idle_lane_gives_its_deque_back_and_takes_calls_again() -> None:
    t = Tally.options(name="tally", eager=False).remote()
    assert await asyncio.gather(*[t.inc.remote(1) for _ in range(10)]) == list(range(1, 11))
    lane = t._actorio_actor.lanes[0]  # type: ignore[attr-defined]
    assert lane.queue is not NO_CALLS  # made by the queued calls
    await _until_released(t)
    state = get_actor(t)
    assert state is not None
    assert (state.calls_completed, state.mailbox_depth) == (10, 0)
    assert state.latency_mean_ms > 0.5
    assert await t.inc.remote(5) == 15  # a new deque, the same order


async def test_calls_from_threads_while_lanes_are_released_are_never_lost() -> None:
    actors = [Tally.options(eager=False).remote() for _ in range(20)]
    await asyncio.gather(*[a.inc.remote(0) for a in actors])
    await _until_released(actors[0])
    start = threading.Barrier(4)
    refs: list[list[actorio.ObjectRef[int]]] = [[] for _ in range(4)]

    def caller(k: int) -> None:
        start.wait()
        deadline = time.monotonic() + 2 * RELEASE_S  # across several release passes
        while time.monotonic() < deadline:
            refs[k].append(actors[len(refs[k]) % len(actors)].inc.remote(1))
            time.sleep(0.002)  # let lanes go idle between calls, so releases do happen

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        await asyncio.to_thread(th.join, WAIT)
    made = sum(len(r) for r in refs)
    await asyncio.wait_for(
        asyncio.gather(*[asyncio.wrap_future(r.future()) for rs in refs for r in rs]), WAIT
    )
    totals = await asyncio.gather(*[a.inc.remote(0) for a in actors])
    assert sum(totals) == made  # every call ran once


def test_latency_samples_stay_small_and_keep_the_latest_window() -> None:
    stats = CallStats()
    assert (stats.mean_ms(), stats.window()) == (0.0, [])
    stats.sample(0.002)
    assert stats.latencies == 0.002  # one sample: a bare float, no list
    assert stats.window() == [0.002]
    assert stats.mean_ms() == 2.0
    stats.sample(0.004)
    assert stats.window() == [0.002, 0.004]
    for i in range(5000):
        stats.sample(i / 1e6)
        assert len(stats.latencies) <= 1024 + 256  # type: ignore[arg-type]
    assert stats.window() == [i / 1e6 for i in range(5000 - 1024, 5000)]
    assert stats.p99_ms() == pytest.approx(4.989)  # nearest rank over the latest 1,024


async def test_a_class_pickled_after_local_calls_travels_without_its_cached_remote() -> None:
    # A class sent to Ray or a worker after it served calls here must not carry the shared
    # remote cached on its specs (a closure over a context variable, which cannot pickle).
    import cloudpickle

    t = Tally.remote()
    assert await t.inc.remote(1) == 1
    spec = t._actorio_actor.spec.methods["inc"]
    assert "remote" in spec.shared
    copy = cloudpickle.loads(cloudpickle.dumps(Tally))
    assert dict(copy._spec.methods["inc"].shared) == {}
    assert await copy.remote().inc.remote(2) == 2
