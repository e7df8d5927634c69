"""backend="ray" on a real local Ray instance (num_cpus=2) started by these tests.

Needs Ray (``pip install -e '.[test,ray]'``, which ``.ci/run`` does): skipped without it,
unless ``ACTORIO_REQUIRE_RAY=1`` (set by CI) makes that a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _actors import resolved, tally

import actorio
from actorio.exceptions import (
    ActorDiedError,
    ActorNameTakenError,
    ActorNotFoundError,
    CallTimeoutError,
    InvalidArgumentsError,
    InvalidOptionsError,
    PendingCallsLimitExceeded,
    TaskCancelledError,
    TaskError,
    WorkerCrashedError,
)
from actorio.util.state import list_actors

if os.environ.get("ACTORIO_REQUIRE_RAY") == "1":
    import ray
else:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")

ROOT = Path(__file__).resolve().parent.parent
WAIT = 60.0

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module", autouse=True)
def on_local_ray(ray_instance: None) -> None:
    """The session's local Ray (tests/conftest.py; the shared suites use it too), started by
    the tests themselves, so actorio.shutdown() leaves it up."""


@pytest.fixture(autouse=True)
def on_ray() -> Iterator[None]:
    actorio.init(backend="ray")
    yield
    actorio.shutdown(timeout=0)


@actorio.remote
class Counter:
    def __init__(self, start: int = 0) -> None:
        self.count = start

    def increment(self, by: int = 1) -> int:
        self.count += by
        return self.count

    def fail(self, message: str) -> None:
        raise KeyError(message)

    def quit(self) -> None:
        actorio.exit_actor()

    def where(self) -> tuple[str | None, str]:
        context = actorio.get_runtime_context()
        return context.get_actor_id(), context.get_node_id()

    def me(self) -> tuple[str | None, int]:
        context = actorio.get_runtime_context()
        return context.get_actor_name(), int(actorio.get(context.current_actor.increment.remote(0)))

    @actorio.method(num_returns=2)
    def pair(self) -> tuple[int, int]:
        return self.count, -self.count


@actorio.remote
class Gatherer:
    """Async: each ``arrive`` returns once ``n`` of them run at the same time."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.arrived = 0
        self.all_here = asyncio.Event()

    async def arrive(self) -> int:
        self.arrived += 1
        if self.arrived == self.n:
            self.all_here.set()
        await self.all_here.wait()
        return self.arrived

    async def forever(self) -> None:
        await asyncio.Event().wait()


@actorio.remote(max_concurrency=4)
class Threads:
    def __init__(self) -> None:
        self.barrier = threading.Barrier(4)

    def meet(self) -> int:
        return self.barrier.wait(timeout=WAIT)


@actorio.remote(concurrency_groups={"io": 1})
class Grouped:
    def __init__(self) -> None:
        self.release = threading.Event()

    def busy(self) -> str:
        assert self.release.wait(WAIT)
        return "busy done"

    @actorio.method(concurrency_group="io")
    def let_go(self) -> str:
        self.release.set()
        return "released"


@actorio.remote
def add(a: int, b: int) -> int:
    return a + b


@actorio.remote
def bump(counter: Any, times: int) -> int:
    for _ in range(times):
        counter.increment.remote()
    return int(actorio.get(counter.increment.remote(0)))


@actorio.remote
def lookup_and_bump(name: str) -> int:
    return int(actorio.get(actorio.get_actor(name).increment.remote()))


@actorio.remote
class LocalCaller:
    """An in-process actor holding a Ray actor's handle."""

    async def call(self, counter: Any) -> int:
        return int(await counter.increment.remote(5))


def test_calls_results_and_errors() -> None:
    c = Counter.remote(10)
    assert actorio.get([c.increment.remote() for _ in range(5)], timeout=WAIT) == [
        11,
        12,
        13,
        14,
        15,
    ]
    assert actorio.get(c.increment.remote(by=5), timeout=WAIT) == 20
    with pytest.raises(KeyError) as info:
        actorio.get(c.fail.remote("nope"), timeout=WAIT)
    assert isinstance(info.value, TaskError)
    assert "raise KeyError(message)" in str(info.value)
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 21  # still alive
    a, b = c.pair.remote()
    assert actorio.get([a, b], timeout=WAIT) == [21, -21]
    actor_id, _ = actorio.get(c.where.remote(), timeout=WAIT)
    assert actor_id == c._actorio_id  # one id, Ray's, everywhere
    ready, pending = actorio.wait([c.increment.remote()], timeout=WAIT)
    assert (actorio.get(ready, timeout=WAIT), pending) == ([22], [])
    named = Counter.options(name="me", max_concurrency=2).remote(5)  # threads: it calls itself
    assert actorio.get(named.me.remote(), timeout=WAIT) == ("me", 5)


async def test_refs_work_with_asyncio() -> None:
    c = Counter.remote()
    assert await c.increment.remote() == 1
    assert await asyncio.gather(*(c.increment.remote() for _ in range(3))) == [2, 3, 4]
    async with asyncio.timeout(WAIT):
        done, _ = await asyncio.wait([c.increment.remote()])
    assert [d.result() for d in done] == [5]


def test_async_threaded_and_groups() -> None:
    g = Gatherer.options(max_concurrency=3).remote(3)
    assert sorted(actorio.get([g.arrive.remote() for _ in range(3)], timeout=WAIT)) == [3] * 3
    t = Threads.remote()
    assert sorted(actorio.get([t.meet.remote() for _ in range(4)], timeout=WAIT)) == [0, 1, 2, 3]
    grouped = Grouped.remote()
    busy = grouped.busy.remote()
    assert actorio.get(grouped.let_go.remote(), timeout=WAIT) == "released"
    assert actorio.get(busy, timeout=WAIT) == "busy done"


def test_names_namespaces_and_lookup_from_a_ray_task() -> None:
    c = Counter.options(name="shared").remote()
    assert actorio.get(actorio.get_actor("shared").increment.remote(), timeout=WAIT) == 1
    again = Counter.options(name="shared", get_if_exists=True).remote()
    assert actorio.get(again.increment.remote(), timeout=WAIT) == 2
    with pytest.raises(ActorNameTakenError, match="already exists"):
        Counter.options(name="shared").remote()
    other = Counter.options(name="shared", namespace="elsewhere").remote(100)
    assert actorio.get(other.increment.remote(), timeout=WAIT) == 101
    with pytest.raises(ActorNotFoundError):
        actorio.get_actor("missing")
    # A Ray task finds the actor by name on the cluster.
    assert actorio.get(lookup_and_bump.remote("shared"), timeout=WAIT) == 3
    assert actorio.get(c.increment.remote(0), timeout=WAIT) == 3


def test_handles_travel_into_ray_tasks_and_from_local_actors() -> None:
    c = Counter.remote()
    assert actorio.get(bump.remote(c, 10), timeout=WAIT) == 10
    local = LocalCaller.options(backend="local").remote()
    assert actorio.get(local.call.remote(c), timeout=WAIT) == 15
    with pytest.raises(InvalidArgumentsError, match="cannot be sent to Ray"):
        bump.remote(local, 1)


def test_remote_functions_and_ref_arguments() -> None:
    assert actorio.get(add.remote(1, 2), timeout=WAIT) == 3
    assert (
        actorio.get(add.remote(resolved(add.remote(1, 2)), 10), timeout=WAIT) == 13
    )  # Ray ref passed on
    c = Counter.remote()
    assert actorio.get(c.increment.remote(resolved(add.remote(2, 3))), timeout=WAIT) == 5


def test_kill_exit_and_monitor() -> None:
    c = Counter.remote()
    actorio.get(c.increment.remote(), timeout=WAIT)
    actorio.kill(c)
    with pytest.raises(ActorDiedError):
        actorio.get(c.increment.remote(), timeout=WAIT)
    assert isinstance(actorio.get(actorio.monitor(c), timeout=WAIT), ActorDiedError)
    q = Counter.remote()
    with pytest.raises(ActorDiedError) as info:
        actorio.get(q.quit.remote(), timeout=WAIT)
    assert isinstance(info.value, ray.exceptions.RayActorError)  # still Ray's type too
    with pytest.raises(ActorDiedError):
        actorio.get(q.increment.remote(), timeout=WAIT)


@actorio.remote
def crash_on_ray(counter: str) -> None:
    tally(counter)
    os._exit(1)


def test_a_task_whose_ray_worker_dies_fails_with_worker_crashed_error(tmp_path: Path) -> None:
    """Ray retries it per max_retries, then raises its own error: actorio's too."""
    counter = tmp_path / "attempts"
    with pytest.raises(WorkerCrashedError) as info:
        actorio.get(crash_on_ray.options(max_retries=1).remote(str(counter)), timeout=WAIT)
    assert isinstance(info.value, ray.exceptions.WorkerCrashedError)  # still Ray's type too
    assert str(info.value).startswith("crash_on_ray: The worker died unexpectedly")
    assert counter.read_text() == "2"


def test_restart_keeps_the_handle_working() -> None:
    c = Counter.options(max_restarts=1, max_task_retries=-1).remote(7)
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 8
    actorio.kill(c, no_restart=False)
    # ray.kill is asynchronous: a call made at once may still reach the old instance (a
    # listed difference); the handle keeps working and soon reaches a fresh one.
    seen = [actorio.get(c.increment.remote(0), timeout=WAIT)]
    while seen[-1] != 7:
        seen.append(actorio.get(c.increment.remote(0), timeout=WAIT))
    assert set(seen) <= {8, 7}
    assert list_actors(class_name="Counter")[0].restarts == 1


def test_cancel_timeout_and_backpressure() -> None:
    g = Gatherer.remote(10)
    ref = g.forever.remote()
    actorio.cancel(ref)
    with pytest.raises(TaskCancelledError) as cancelled:
        actorio.get(ref, timeout=WAIT)
    assert cancelled.value is not None
    with pytest.raises(CallTimeoutError, match=r"timed out after 0\.5 s"):
        actorio.get(g.forever.options(timeout=0.5).remote(), timeout=WAIT)
    limited = Gatherer.options(max_pending_calls=2).remote(10)
    held = [limited.forever.remote(), limited.forever.remote()]
    # Ray counts the calls it has not answered; which call is refused first is Ray's choice.
    refused = None
    for _ in range(5):
        try:
            held.append(limited.forever.remote())
        except PendingCallsLimitExceeded as exc:
            refused = exc
            break
    assert isinstance(refused, ray.exceptions.PendingCallsLimitExceeded)
    for r in held:
        actorio.cancel(r)


def test_state_api_sees_ray_actors() -> None:
    c = Counter.options(name="seen").remote()
    actorio.get([c.increment.remote() for _ in range(4)], timeout=WAIT)
    (state,) = list_actors(name="seen")
    assert (state.backend, state.state, state.calls_completed) == ("ray", "ALIVE", 4)


def test_ray_only_options_pass_through() -> None:
    c = Counter.options(num_cpus=0.5, scheduling_strategy="SPREAD").remote()
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1
    with pytest.raises(InvalidOptionsError, match=r"Ray refused to create Counter.*num_cpus"):
        Counter.options(resources={"CPU": 1}).remote()  # Ray's own check, passed on
    assert actorio.get(add.options(num_cpus=0.5).remote(2, 2), timeout=WAIT) == 4


def test_actorios_scheduling_strategies_become_rays() -> None:
    from ray.util.placement_group import placement_group, remove_placement_group

    from actorio.util.scheduling_strategies import (
        In,
        NodeLabelSchedulingStrategy,
        PlacementGroupSchedulingStrategy,
    )

    pg = placement_group([{"CPU": 0.5}])
    ray.get(pg.ready(), timeout=WAIT)
    try:
        in_group = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=0)
        c = Counter.options(num_cpus=0, scheduling_strategy=in_group).remote()
        assert actorio.get(c.increment.remote(), timeout=WAIT) == 1
        bundled = add.options(num_cpus=0.5, scheduling_strategy=in_group)
        assert actorio.get(bundled.remote(1, 2), timeout=WAIT) == 3
        actorio.kill(c)
    finally:
        remove_placement_group(pg)
    preferring = NodeLabelSchedulingStrategy({}, soft={"no-such-label": In("x")})
    assert actorio.get(add.options(scheduling_strategy=preferring).remote(2, 3), timeout=WAIT) == 5


@actorio.remote
def bar_in_a_ray_task(total: int) -> str:
    from actorio.experimental import tqdm_ray

    bar = tqdm_ray.tqdm(total=total, desc="ray")
    bar.update(total)
    bar.close()
    return type(bar).__module__


def test_a_bar_made_in_a_ray_worker_is_rays_own() -> None:
    assert actorio.get(bar_in_a_ray_task.remote(3), timeout=WAIT) == "ray.experimental.tqdm_ray"


def test_a_refs_hex_is_rays() -> None:
    ref = add.remote(1, 1)
    assert ref.hex() == ref._actorio_work.ray_ref.hex()
    assert actorio.get(ref, timeout=WAIT) == 2


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_without_ray_the_error_says_what_to_install() -> None:
    proc = _run(
        """
        import sys
        sys.modules["ray"] = None  # as if it were not installed
        import actorio
        from actorio.exceptions import InvalidOptionsError

        @actorio.remote
        class A:
            def f(self): return 1

        try:
            A.options(backend="ray").remote()
        except InvalidOptionsError as exc:
            print(exc)
        """
    )
    assert "pip install 'actorio[ray]'" in proc.stdout, proc.stderr


def test_address_without_the_ray_backend_is_refused() -> None:
    actorio.shutdown()
    with pytest.raises(InvalidOptionsError, match="backend='ray'"):
        actorio.init(address="auto", backend="local")


OUR_FRAME = re.compile(r"[/\\]actorio[/\\](_|backends|util|dashboard)")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("counter_actor.py", "init_value=0, after_increment_value=1\n"),
        ("counter_actor_init_100.py", "init_value=100, after_increment_value=101\n"),
        ("named_counter.py", "counter_origin_value=1\ncounter_from_namespace_value=2\n"),
        # Ray orders calls per caller only: the task's increments and the driver's read are
        # two callers, so real Ray may print fewer than 10 (in-process actorio never does).
        ("increment_in_task.py", None),
    ],
)
def test_seed_scripts_on_ray(name: str, expected: str | None) -> None:
    script = ROOT / "examples" / "ray_seed" / name
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
        env={**os.environ, "ACTORIO_BACKEND": "ray"},
    )
    assert proc.returncode == 0, proc.stderr
    if expected is None:
        assert proc.stdout.startswith("count=")
        assert int(proc.stdout.split("=")[1]) <= 10
    else:
        assert proc.stdout == expected
    # None of ours; Ray's own log thread may print one at exit on a loaded machine
    # (ConnectionResetError while the local Ray shuts down), which is not the script's.
    ours = [t for t in proc.stderr.split("Traceback")[1:] if OUR_FRAME.search(t) or name in t]
    assert not ours, proc.stderr
    # actorio's exit hook runs before Ray's, and never calls a Ray that is down already (a
    # call would start a second local Ray, seconds long, just to reach a dead actor).
    assert proc.stderr.count("Started a local Ray instance") == 1, proc.stderr


def test_two_node_cluster_places_an_actor_by_resource() -> None:
    """A real two-node Ray cluster on this machine (Ray's own cluster_utils), in a fresh
    process: an actor asking for the second node's custom resource runs there."""
    proc = _run(
        """
        import json
        import actorio
        from ray.cluster_utils import Cluster

        cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "include_dashboard": False},
        )
        second = cluster.add_node(num_cpus=1, resources={"second_node": 1})
        cluster.wait_for_nodes()
        actorio.init(backend="ray", address=cluster.address)

        @actorio.remote
        class Where:
            def node(self):
                return actorio.get_runtime_context().get_node_id()

        there = Where.options(resources={"second_node": 1}).remote()
        here = Where.remote()
        print(json.dumps({
            "second": second.node_id,
            "head": cluster.head_node.node_id,
            "placed": actorio.get(there.node.remote(), timeout=120),
            "default": actorio.get(here.node.remote(), timeout=120),
        }))
        actorio.shutdown()
        cluster.shutdown()
        """
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["second"] != seen["head"]
    assert seen["placed"] == seen["second"]
    assert seen["default"] in (seen["head"], seen["second"])


def test_detached_actors_outlive_the_driver_runtime() -> None:
    keeper = Counter.options(name="keeper", lifetime="detached").remote(41)
    assert actorio.get(keeper.increment.remote(), timeout=WAIT) == 42
    actorio.shutdown()  # the driver's actorio stops; Ray (and the detached actor) go on
    actorio.init(backend="ray")
    again = actorio.get_actor("keeper")
    assert actorio.get(again.increment.remote(), timeout=WAIT) == 43
    actorio.kill(again)


@actorio.remote
async def slow_add(a: int, b: int) -> int:
    await asyncio.sleep(0.01)
    return a + b


def test_async_remote_functions_run_on_their_own_loop() -> None:
    assert actorio.get(slow_add.remote(2, 3), timeout=WAIT) == 5


def test_a_restart_does_not_make_the_actor_dead() -> None:
    c = Counter.options(max_restarts=2).remote(1)
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 2
    actorio.kill(c, no_restart=False)
    lost: list[str] = []
    for _ in range(200):  # calls racing the restart may fail; the actor comes back
        try:
            if actorio.get(c.increment.remote(0), timeout=WAIT) == 1:
                break
        except ActorDiedError as exc:
            lost.append(str(exc))
    assert all("unavailable" in m or "dead" in m for m in lost)
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 2
    assert list_actors(class_name="Counter")[0].state == "ALIVE"
