"""Names Ray programs import, written as a Ray program would use them (``import actorio as
ray``): ``ray.actor``, ``ray.cloudpickle``, ``ray.util.scheduling_strategies``,
``ray.experimental.tqdm_ray``, and the documented list of Ray options actorio ignores.

(Scheduling strategies, ignored options and ``get_runtime_context().node_id`` are tested in
``test_runtime.py``; ``ObjectRef.hex()`` and failed ref arguments in ``test_ref.py``; the
error shapes in ``test_actor.py`` and ``test_cancel.py``.)
"""

from __future__ import annotations

import pickle
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from _actors import WAIT, Counter

import actorio as ray
from actorio._options import IGNORED_CALL_OPTIONS, RAY_ACTOR_OPTIONS, RAY_TASK_OPTIONS
from actorio.actor import ActorClass, ActorHandle, ActorMethod, exit_actor, method
from actorio.exceptions import (
    ActorDiedError,
    InvalidArgumentsError,
    MissingDependencyError,
)
from actorio.experimental import tqdm_ray

ROOT = Path(__file__).resolve().parent.parent

# -- ray.actor ------------------------------------------------------------------------------------


@ray.remote
class Quitter:
    def ping(self) -> str:
        return "pong"

    def quit(self) -> None:
        ray.actor.exit_actor()  # Ray's documented spelling


def test_ray_actor_names_are_actorios() -> None:
    assert exit_actor is ray.exit_actor
    assert method is ray.method
    assert (ActorClass, ActorHandle, ActorMethod) == (
        ray.ActorClass,
        ray.ActorHandle,
        ray.ActorMethod,
    )
    assert ray.actor.exit_actor is ray.exit_actor


def test_ray_actor_exit_actor_ends_the_actor(backend: str) -> None:
    q = Quitter.options(backend=backend).remote()
    assert ray.get(q.ping.remote(), timeout=WAIT) == "pong"
    with pytest.raises(ActorDiedError):
        ray.get(q.quit.remote(), timeout=WAIT)
    with pytest.raises(ActorDiedError):
        ray.get(q.ping.remote(), timeout=WAIT)


def _total(counters: list[ActorHandle[Any]]) -> int:
    """A helper typed the way Ray code types handles (``from ray.actor import ActorHandle``)."""
    return sum(ray.get([c.get.remote() for c in counters], timeout=WAIT))


def test_actor_handle_as_a_type_hint() -> None:
    counters = [Counter.remote(n) for n in (1, 2, 3)]
    assert all(isinstance(c, ActorHandle) for c in counters)
    assert isinstance(Counter, ActorClass)
    assert isinstance(counters[0].get, ActorMethod)
    assert _total(counters) == 6


# -- ray.cloudpickle ------------------------------------------------------------------------------


def test_ray_cloudpickle_pickles_what_pickle_cannot() -> None:
    offset = 5
    add = lambda x: x + offset  # noqa: E731  (a lambda is the point)

    class Local:
        value = 7

    assert ray.cloudpickle.loads(ray.cloudpickle.dumps(add))(1) == 6
    assert ray.cloudpickle.loads(ray.cloudpickle.dumps(Local)).value == 7
    assert ray.cloudpickle.loads is pickle.loads
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(add)
    import cloudpickle

    assert ray.cloudpickle.dumps is cloudpickle.dumps
    assert ray.cloudpickle.PicklingError is pickle.PicklingError


def test_util_scheduling_strategies_is_reachable_as_in_ray() -> None:
    strategies = ray.util.scheduling_strategies
    strategy = strategies.NodeAffinitySchedulingStrategy(node_id="abc", soft=True)
    assert (strategy.node_id, strategy.soft) == ("abc", True)


# -- the documented list of ignored options -------------------------------------------------------


def test_the_docs_list_every_option_actorio_ignores() -> None:
    page = (ROOT / "docs" / "api-tour.md").read_text(encoding="utf-8")
    # The section under its heading, up to the next heading.
    section = page.split("## Ray's options that mean nothing here\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", section))
    missing = (RAY_ACTOR_OPTIONS | RAY_TASK_OPTIONS | IGNORED_CALL_OPTIONS) - listed
    assert missing == set()


# -- ray.experimental.tqdm_ray --------------------------------------------------------------------


@ray.remote
def step(bar: tqdm_ray.tqdm, times: int) -> int:
    for _ in range(times):
        bar.update(1)
    return times


@ray.remote(max_concurrency=4)
class Stepper:
    def step(self, bar: tqdm_ray.tqdm, times: int) -> int:
        for _ in range(times):
            bar.update(1)
        return times


@ray.remote
def own_bar(desc: str, total: int) -> str:
    bar = tqdm_ray.tqdm(total=total, desc=desc)
    for _ in range(total):
        bar.update(1)
    bar.close()
    return type(bar).__module__


def _drawn(err: str) -> list[str]:
    """The states tqdm drew (it redraws a line with carriage returns)."""
    return [line.strip() for line in re.split(r"[\r\n]", err) if line.strip()]


# tqdm's monitor thread ("tqdm_monitor") is tqdm's, kept for the whole process by design.
@pytest.mark.actorio(allow_leaks=True)
def test_a_bar_shared_by_threads_actors_and_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    bar = tqdm_ray.tqdm(total=60, desc="shared")
    stepper = Stepper.remote()
    refs = [stepper.step.remote(bar, 10) for _ in range(2)]
    refs += [step.remote(bar, 10) for _ in range(2)]

    def ten_steps() -> None:
        for _ in range(10):
            bar.update(1)

    threads = [threading.Thread(target=ten_steps) for _ in "ab"]
    for t in threads:
        t.start()
    assert ray.get(refs, timeout=WAIT) == [10, 10, 10, 10]
    for t in threads:
        t.join(WAIT)
    assert bar.n == 60  # in this process every copy is the same bar
    bar.close()
    drawn = _drawn(capsys.readouterr().err)
    assert drawn[-1].startswith("shared: 100%")
    assert "60/60" in drawn[-1]


def test_a_bar_updated_in_worker_processes_adds_up_in_the_driver(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bar = tqdm_ray.tqdm(total=40, desc="workers")
    stepper = Stepper.options(backend="process").remote()
    refs = [stepper.step.remote(bar, 10) for _ in range(2)]
    refs += [step.options(backend="process").remote(bar, 10) for _ in range(2)]
    assert ray.get(refs, timeout=WAIT) == [10, 10, 10, 10]
    bar.close()  # after the copies' updates: each reached the driver before its call's result
    # A bar made inside a worker is drawn by the driver too.
    assert ray.get(own_bar.options(backend="process").remote("inner", 5), timeout=WAIT) == (
        tqdm_ray.__name__
    )
    ray.get(tqdm_ray._drawer_actor().__ray_ready__.remote(), timeout=WAIT)  # all drawn
    drawn = _drawn(capsys.readouterr().err)
    assert [line for line in drawn if line.startswith("workers: 100%")] != []
    assert any("40/40" in line for line in drawn)
    assert [line for line in drawn if line.startswith("inner: 100%") and "5/5" in line] != []
    assert bar.n == 0  # the driver's copy counted nothing itself


def test_iteration_description_total_and_n(capsys: pytest.CaptureFixture[str]) -> None:
    seen = list(tqdm_ray.tqdm(range(4), desc="loop"))
    assert seen == [0, 1, 2, 3]
    drawn = _drawn(capsys.readouterr().err)
    assert drawn[-1].startswith("loop: 100%")  # closed at the end of the iteration
    assert "4/4" in drawn[-1]

    bar = tqdm_ray.tqdm(desc="first")
    assert bar.total is None
    bar.total = 10
    bar.update(3)
    bar.n = 8
    bar.set_description("second")
    bar.refresh()
    bar.close()
    assert (bar.n, bar.total) == (8, 10)
    assert _drawn(capsys.readouterr().err)[-1].startswith("second:  80%")
    with pytest.raises(InvalidArgumentsError, match="no iterable"):
        list(tqdm_ray.tqdm(total=3))


def test_tqdm_ray_without_tqdm_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'actorio\[tqdm\]'") as info:
        tqdm_ray.tqdm(total=3)
    assert isinstance(info.value, ImportError)
