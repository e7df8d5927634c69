"""The runtime: init/shutdown, options, runtime context, actorio.run, where actors live, exit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _actors import WAIT, Counter

import actorio
from actorio._options import IGNORED_CALL_OPTIONS, RAY_ACTOR_OPTIONS, RAY_TASK_OPTIONS
from actorio.exceptions import (
    ActorDiedError,
    ActorNotFoundError,
    AlreadyInitializedError,
    InvalidOptionsError,
    NotInActorError,
)
from actorio.util.scheduling_strategies import (
    DoesNotExist,
    Exists,
    In,
    NodeAffinitySchedulingStrategy,
    NodeLabelSchedulingStrategy,
    NotIn,
    PlacementGroupSchedulingStrategy,
)

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10


class SyncProbe:
    """Run as a regular actor and, unchanged, as a threaded one."""

    def actor_id(self) -> str | None:
        return actorio.get_runtime_context().get_actor_id()

    def me(self) -> actorio.ActorHandle[Any]:
        return actorio.get_runtime_context().current_actor

    def thread(self) -> tuple[int, str]:
        return threading.get_ident(), threading.current_thread().name

    def make_child(self, placement: str | None = None) -> actorio.ActorHandle[Any]:
        return RegularProbe.options(placement=placement).remote()


@actorio.remote
class AsyncProbe:
    async def actor_id(self) -> str | None:
        await asyncio.sleep(0)
        return actorio.get_runtime_context().get_actor_id()

    async def me(self) -> actorio.ActorHandle[Any]:
        await asyncio.sleep(0)
        return actorio.get_runtime_context().current_actor

    async def thread(self) -> tuple[int, str]:
        return threading.get_ident(), threading.current_thread().name

    def sync_thread(self) -> tuple[int, str]:
        return threading.get_ident(), threading.current_thread().name

    async def wait_forever(self, started: threading.Event) -> None:
        started.set()
        await asyncio.Event().wait()


RegularProbe = actorio.remote(SyncProbe)
ThreadedProbe = actorio.remote(max_concurrency=2)(SyncProbe)


PROBES = [RegularProbe, AsyncProbe, ThreadedProbe]
PROBE_IDS = ["regular", "async", "threaded"]


@actorio.remote
def make_probe_in_task(placement: str | None = None) -> actorio.ActorHandle[Any]:
    return RegularProbe.options(placement=placement).remote()


@actorio.remote
def actor_id_in_task() -> str | None:
    return actorio.get_runtime_context().get_actor_id()


@actorio.remote
async def async_actor_id_in_task() -> str | None:
    return actorio.get_runtime_context().get_actor_id()


@actorio.remote
def exit_actor_in_task() -> str:
    try:
        actorio.exit_actor()
    except NotInActorError as exc:
        return f"NotInActorError: {exc}"
    return "exit_actor() returned"


@actorio.remote
class TaskLauncher:
    def launch(self) -> tuple[Any, Any]:
        return actor_id_in_task.remote(), async_actor_id_in_task.remote()

    def launch_exit(self) -> Any:
        return exit_actor_in_task.remote()


# -- init / is_initialized ---------------------------------------------------------------------


def test_init_twice_raises() -> None:
    assert not actorio.is_initialized()
    actorio.init()
    assert actorio.is_initialized()
    with pytest.raises(AlreadyInitializedError) as info:
        actorio.init()
    assert isinstance(info.value, RuntimeError)
    msg = str(info.value)
    assert "already initialized" in msg
    assert "actorio.init()" in msg
    assert "ignore_reinit_error=True" in msg
    assert actorio.is_initialized()


def test_init_twice_with_ignore_reinit_error_keeps_first_runtime() -> None:
    actorio.init(namespace="first")
    ctx = actorio.init(namespace="second", ignore_reinit_error=True)
    assert isinstance(ctx, actorio.RuntimeContext)
    assert ctx.namespace == "first"
    assert actorio.get_runtime_context().namespace == "first"


def test_init_after_implicit_init_raises() -> None:
    assert not actorio.is_initialized()
    h = Counter.remote()
    assert actorio.is_initialized()
    with pytest.raises(AlreadyInitializedError, match="implicitly"):
        actorio.init()
    with pytest.raises(AlreadyInitializedError, match="implicitly"):
        actorio.init(namespace="late")
    actorio.init(ignore_reinit_error=True)
    assert actorio.get(h.increment.remote(), timeout=TIMEOUT) == 1


def test_is_initialized_follows_use_and_shutdown() -> None:
    assert not actorio.is_initialized()
    Counter.remote()
    assert actorio.is_initialized()
    actorio.shutdown()
    assert not actorio.is_initialized()
    actorio.init()
    assert actorio.is_initialized()
    actorio.shutdown()
    assert not actorio.is_initialized()
    # init() works again after shutdown.
    actorio.init(namespace="again")
    assert actorio.get_runtime_context().namespace == "again"


async def test_is_initialized_after_use_in_async_code() -> None:
    assert not actorio.is_initialized()
    h = Counter.remote()
    assert actorio.is_initialized()
    assert await h.increment.remote() == 1
    with pytest.raises(AlreadyInitializedError, match="implicitly"):
        actorio.init()


def test_init_with_address_raises() -> None:
    with pytest.raises(InvalidOptionsError) as info:
        actorio.init(address="auto")
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert "address='auto'" in msg
    assert "cluster" in msg
    assert not actorio.is_initialized()


def test_init_with_unknown_backend_raises() -> None:
    with pytest.raises(InvalidOptionsError) as info:
        actorio.init(backend="nope")
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert "'nope'" in msg
    assert "'local'" in msg
    assert not actorio.is_initialized()
    # Nothing half-made stays behind: a normal init works.
    actorio.init(backend="local")
    assert actorio.is_initialized()


def test_init_accepts_ray_resource_options() -> None:
    actorio.init(num_cpus=4, num_gpus=0, include_dashboard=False)
    h = Counter.remote(1)
    assert actorio.get(h.increment.remote(), timeout=TIMEOUT) == 2


def test_backend_env_var_unknown_fails_first_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTORIO_BACKEND", "nope")
    with pytest.raises(InvalidOptionsError, match=r"backend 'nope' is not available"):
        Counter.remote()
    assert not actorio.is_initialized()
    with pytest.raises(InvalidOptionsError, match="'nope'"):
        actorio.init()
    # An explicit backend wins over the environment.
    actorio.init(backend="local")
    assert actorio.get(Counter.remote().increment.remote(), timeout=TIMEOUT) == 1


def test_backend_env_var_local_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTORIO_BACKEND", "local")
    assert actorio.get(Counter.remote(4).increment.remote(), timeout=TIMEOUT) == 5


def test_unknown_backend_option_raises() -> None:
    with pytest.raises(InvalidOptionsError, match="'nope'"):
        Counter.options(backend="nope")


# -- options -----------------------------------------------------------------------------------


def test_ray_placement_options_are_ignored() -> None:
    h = Counter.options(
        num_cpus=1, num_gpus=0, resources={"x": 1}, scheduling_strategy="SPREAD"
    ).remote(10)
    assert actorio.get(h.increment.remote(), timeout=TIMEOUT) == 11


def test_ray_placement_options_in_decorator_are_ignored() -> None:
    @actorio.remote(num_cpus=2, memory=1024, runtime_env={"pip": []})
    class Placed:
        def ping(self) -> str:
            return "pong"

    assert actorio.get(Placed.remote().ping.remote(), timeout=TIMEOUT) == "pong"


#: a value Ray would take for each of its options that mean nothing outside Ray
RAY_ONLY_VALUES: dict[str, Any] = {
    "num_cpus": 1,
    "num_gpus": 0,
    "memory": 1024,
    "object_store_memory": 1024,
    "resources": {"x": 1},
    "accelerator_type": "A100",
    "label_selector": {"zone": "a"},
    "fallback_strategy": [{"label_selector": {"zone": "b"}}],
    "scheduling_strategy": "SPREAD",
    "runtime_env": {"env_vars": {"A": "1"}},
    "placement_group": None,
    "placement_group_bundle_index": -1,
    "placement_group_capture_child_tasks": False,
    "enable_task_events": False,
    "_labels": {"team": "a"},
    "_metadata": {"owner": "test"},
    "allow_out_of_order_execution": False,
    "enable_tensor_transport": False,
    "_actor_generator_backpressure_num_objects": 4,
    "max_calls": 1,
    "_generator_backpressure_num_objects": 2,
    "_num_objects_per_yield": 1,
    "tensor_transport": "object_store",
}


@actorio.remote
def doubled(x: int) -> int:
    return 2 * x


@pytest.mark.parametrize("where", ["local", "process"])
def test_rays_cluster_options_are_accepted_and_ignored(where: str) -> None:
    actor_options = {k: RAY_ONLY_VALUES[k] for k in sorted(RAY_ACTOR_OPTIONS)}
    h = Counter.options(backend=where, **actor_options).remote(10)
    assert actorio.get(h.increment.remote(), timeout=WAIT) == 11
    task_options = {k: RAY_ONLY_VALUES[k] for k in sorted(RAY_TASK_OPTIONS)}
    assert actorio.get(doubled.options(backend=where, **task_options).remote(4), timeout=WAIT) == 8
    call_options = {k: RAY_ONLY_VALUES[k] for k in sorted(IGNORED_CALL_OPTIONS)}
    assert actorio.get(h.increment.options(**call_options).remote(), timeout=WAIT) == 12

    @actorio.remote(**actor_options)
    class Tagged:
        @actorio.method(**call_options)
        def ping(self) -> str:
            return "pong"

    assert actorio.get(Tagged.options(backend=where).remote().ping.remote(), timeout=WAIT) == "pong"


@pytest.mark.parametrize(
    ("make", "kind", "wrong", "meant"),
    [
        (lambda: Counter.options(max_restart=1), "actor", "max_restart", "max_restarts"),
        (lambda: Counter.options(num_cpu=1), "actor", "num_cpu", "num_cpus"),
        (lambda: doubled.options(max_retry=2), "task", "max_retry", "max_retries"),
        (lambda: doubled.options(runtime_envs={}), "task", "runtime_envs", "runtime_env"),
        (lambda: actorio.method(num_return=2), "method", "num_return", "num_returns"),
        (
            lambda: Counter.remote().increment.options(enable_task_event=False),
            "method",
            "enable_task_event",
            "enable_task_events",
        ),
    ],
)
def test_a_misspelled_option_names_the_close_match(
    make: Any, kind: str, wrong: str, meant: str
) -> None:
    with pytest.raises(InvalidOptionsError) as info:
        make()
    message = str(info.value)
    assert message.startswith(f"unknown {kind} option {wrong!r}; did you mean {meant!r}?")
    assert "actorio accepts" in message
    assert "ignores Ray's cluster options" in message


def test_an_option_nothing_like_a_known_one_lists_them() -> None:
    with pytest.raises(InvalidOptionsError, match=r"unknown actor option 'zzz'; actorio accepts"):
        Counter.options(zzz=1)


# -- scheduling strategies ----------------------------------------------------------------------


@actorio.remote
class NodeProbe:
    def node(self) -> tuple[str, str, str]:
        ctx = actorio.get_runtime_context()
        return ctx.get_node_id(), ctx.node_id, ctx.node_id.hex()


@actorio.remote
def node_of_task() -> str:
    return actorio.get_runtime_context().get_node_id()


def test_node_id_is_get_node_id(backend: str) -> None:
    ctx = actorio.get_runtime_context()
    node = ctx.get_node_id()
    assert ctx.node_id == node
    assert ctx.node_id.hex() == node  # Ray's older spelling, ctx.node_id.hex(), works too
    probe = NodeProbe.options(backend=backend).remote()
    there, spelled, hexed = actorio.get(probe.node.remote(), timeout=WAIT)
    assert there == spelled == hexed
    assert actorio.get(node_of_task.options(backend=backend).remote(), timeout=WAIT) == there
    if not (backend == "process" and ray_is_up()):  # (a worker has no Ray to ask)
        assert there == node


def ray_is_up() -> bool:
    """True if this process runs a Ray driver: its node id is then Ray's."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


def test_scheduling_strategies_are_taken_by_actors_and_tasks(backend: str) -> None:
    node = actorio.get_runtime_context().get_node_id()
    if backend == "process" and ray_is_up():  # where the workers run, by their own account
        node = actorio.get(NodeProbe.options(backend=backend).remote().node.remote())[0]
    strategies: list[Any] = [
        "DEFAULT",
        "SPREAD",
        None,
        NodeAffinitySchedulingStrategy(node, soft=False),
        NodeAffinitySchedulingStrategy(node_id=node, soft=True, _spill_on_unavailable=True),
    ]
    if backend != "ray":  # on Ray: with a real placement group and labels, in test_ray.py
        strategies += [
            PlacementGroupSchedulingStrategy(placement_group=object()),
            NodeLabelSchedulingStrategy(
                {"region": In("us", "eu"), "gpu": Exists()},
                soft={"spot": NotIn("yes"), "old": DoesNotExist()},
            ),
        ]
    for strategy in strategies:
        probe = NodeProbe.options(backend=backend, scheduling_strategy=strategy).remote()
        assert actorio.get(probe.node.remote(), timeout=WAIT)[0] == node, strategy
        task = node_of_task.options(backend=backend, scheduling_strategy=strategy)
        assert actorio.get(task.remote(), timeout=WAIT) == node, strategy


def test_bad_scheduling_strategies_are_refused() -> None:
    with pytest.raises(InvalidOptionsError, match="scheduling_strategy must be None, 'DEFAULT'"):
        Counter.options(scheduling_strategy="NEAREST")
    with pytest.raises(InvalidOptionsError, match="scheduling_strategy must be"):
        doubled.options(scheduling_strategy=3)
    with pytest.raises(InvalidOptionsError, match="takes one or more label values"):
        In()
    with pytest.raises(InvalidOptionsError, match="at least one condition"):
        NodeLabelSchedulingStrategy({})
    with pytest.raises(InvalidOptionsError, match="must map to In"):
        NodeLabelSchedulingStrategy({"region": "us"})  # type: ignore[dict-item]
    with pytest.raises(InvalidOptionsError, match="_spill_on_unavailable needs soft=True"):
        NodeAffinitySchedulingStrategy("n", soft=False, _spill_on_unavailable=True)


def test_unknown_actor_option_lists_accepted_ones() -> None:
    with pytest.raises(InvalidOptionsError) as info:
        Counter.options(bogus=1)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert "'bogus'" in msg
    for accepted in ("name", "namespace", "get_if_exists", "lifetime", "max_concurrency"):
        assert repr(accepted) in msg


def test_unknown_option_in_decorator_raises() -> None:
    with pytest.raises(InvalidOptionsError, match=r"unknown actor option 'bogus'"):

        @actorio.remote(bogus=True)
        class Bad:
            def ping(self) -> None:
                pass


def test_lifecycle_options_are_validated() -> None:
    with pytest.raises(InvalidOptionsError, match="max_restarts must be an int >= -1"):
        Counter.options(max_restarts=-2)
    with pytest.raises(InvalidOptionsError, match="retry_exceptions must be"):
        Counter.options(retry_exceptions="yes")
    h = Counter.options(max_restarts=0, max_task_retries=-1, max_pending_calls=10).remote(1)
    assert actorio.get(h.increment.remote(), timeout=TIMEOUT) == 2


# -- get_runtime_context -----------------------------------------------------------------------


@pytest.mark.parametrize("cls", PROBES, ids=PROBE_IDS)
def test_runtime_context_inside_actor(cls: Any) -> None:
    h = cls.remote()
    actor_id = actorio.get(h.actor_id.remote(), timeout=TIMEOUT)
    assert isinstance(actor_id, str)
    assert actor_id == h._actorio_id
    me = actorio.get(h.me.remote(), timeout=TIMEOUT)
    assert isinstance(me, actorio.ActorHandle)
    assert me == h
    # The handle it returned reaches the same actor.
    assert actorio.get(me.actor_id.remote(), timeout=TIMEOUT) == actor_id


@pytest.mark.parametrize("cls", PROBES, ids=PROBE_IDS)
async def test_runtime_context_inside_actor_async(cls: Any) -> None:
    h = cls.remote()
    assert await h.actor_id.remote() == h._actorio_id
    assert await h.me.remote() == h


def test_runtime_context_ids_differ_between_actors() -> None:
    a, b = RegularProbe.remote(), RegularProbe.remote()
    ids = actorio.get([a.actor_id.remote(), b.actor_id.remote()], timeout=TIMEOUT)
    assert ids == [a._actorio_id, b._actorio_id]
    assert ids[0] != ids[1]


def test_runtime_context_outside_actor() -> None:
    ctx = actorio.get_runtime_context()
    assert ctx.get_actor_id() is None
    assert ctx.get_actor_name() is None
    with pytest.raises(NotInActorError, match="current_actor"):
        ctx.current_actor
    with pytest.raises(NotInActorError, match="exit_actor"):
        actorio.exit_actor()


async def test_runtime_context_outside_actor_async() -> None:
    h = RegularProbe.remote()
    assert await h.actor_id.remote() == h._actorio_id
    # The test's own coroutine is not an actor, even on the loop that hosts one.
    assert actorio.get_runtime_context().get_actor_id() is None
    with pytest.raises(NotInActorError):
        actorio.get_runtime_context().current_actor


def test_runtime_context_in_top_level_task() -> None:
    assert actorio.get(actor_id_in_task.remote(), timeout=TIMEOUT) is None
    assert actorio.get(async_actor_id_in_task.remote(), timeout=TIMEOUT) is None


def test_runtime_context_in_task_launched_by_actor() -> None:
    # A task started from an actor method is not part of the actor (as in Ray).
    h = TaskLauncher.remote()
    sync_ref, async_ref = actorio.get(h.launch.remote(), timeout=TIMEOUT)
    assert actorio.get([sync_ref, async_ref], timeout=TIMEOUT) == [None, None]


def test_exit_actor_in_task_launched_by_actor() -> None:
    h = TaskLauncher.remote()
    ref = actorio.get(h.launch_exit.remote(), timeout=TIMEOUT)
    assert actorio.get(ref, timeout=TIMEOUT).startswith("NotInActorError")


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
    mate = Counter.options(backend=backend, name="mate").remote()
    finder = Counter.options(backend=backend, mode="threaded").remote()
    assert actorio.get(finder.find.remote("mate"), timeout=WAIT) == 1
    assert actorio.get(mate.get.remote(), timeout=WAIT) == 1


# -- actorio.run -------------------------------------------------------------------------------


def test_run_uses_uvloop_and_returns_value() -> None:
    async def main() -> tuple[str, int]:
        h = Counter.remote(41)
        return type(asyncio.get_running_loop()).__module__, await h.increment.remote()

    module, value = actorio.run(main())
    assert module.startswith("uvloop")
    assert value == 42


def test_run_with_asyncio_loop_factory() -> None:
    async def main() -> str:
        h = Counter.remote()
        assert await h.increment.remote() == 1
        return type(asyncio.get_running_loop()).__module__

    assert actorio.run(main(), loop_factory=asyncio.new_event_loop).startswith("asyncio")


def test_run_propagates_exceptions() -> None:
    async def main() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        actorio.run(main())


def test_actor_created_in_run_is_dead_afterwards_from_another_loop() -> None:
    async def main() -> actorio.ActorHandle[Any]:
        h = Counter.remote()
        assert await h.increment.remote() == 1
        return h

    h = actorio.run(main())

    async def later() -> None:
        with pytest.raises(ActorDiedError, match=r"actorio\.run\(\) loop finished"):
            await h.increment.remote()

    actorio.run(later())


def test_actor_created_in_run_is_dead_afterwards_from_sync_code() -> None:
    async def main() -> actorio.ActorHandle[Any]:
        h = Counter.remote()
        assert await h.increment.remote() == 1
        return h

    h = actorio.run(main())
    with pytest.raises(ActorDiedError, match=r"actorio\.run\(\) loop finished"):
        actorio.get(h.increment.remote(), timeout=TIMEOUT)


def test_named_actor_created_in_run_frees_its_name() -> None:
    async def main() -> None:
        h = Counter.options(name="in_run").remote()
        assert await actorio.get_actor("in_run").increment.remote() == 1
        assert h == actorio.get_actor("in_run")

    actorio.run(main())
    with pytest.raises(ActorNotFoundError, match="'in_run'"):
        actorio.get_actor("in_run")
    assert actorio.util.list_named_actors() == []


def test_run_leaves_sync_hosted_actors_alive() -> None:
    outside = Counter.remote()
    assert actorio.get(outside.increment.remote(), timeout=TIMEOUT) == 1

    async def main() -> int:
        return await outside.increment.remote()

    assert actorio.run(main()) == 2
    assert actorio.get(outside.increment.remote(), timeout=TIMEOUT) == 3


# -- where actors live -------------------------------------------------------------------------


def test_actor_created_from_sync_code_is_hosted_on_runtime_loop_thread() -> None:
    # A regular actor made from plain sync code runs its sync methods on a worker thread (it
    # may block, as on Ray); async actors run on the runtime loop, sync methods included.
    h = RegularProbe.remote()
    ident, name = actorio.get(h.thread.remote(), timeout=TIMEOUT)
    assert name.startswith("actorio-worker-")
    assert ident != threading.get_ident()
    a = AsyncProbe.remote()
    assert actorio.get(a.thread.remote(), timeout=TIMEOUT)[1] == "actorio-loop"
    assert actorio.get(a.sync_thread.remote(), timeout=TIMEOUT)[1] == "actorio-loop"
    inline = RegularProbe.options(placement="inline").remote()
    assert actorio.get(inline.thread.remote(), timeout=TIMEOUT)[1] == "actorio-loop"


def test_threaded_actor_runs_on_worker_threads() -> None:
    h = ThreadedProbe.remote()
    _, name = actorio.get(h.thread.remote(), timeout=TIMEOUT)
    assert name.startswith("actorio-worker-")


def test_all_sync_created_actors_share_one_loop_thread() -> None:
    a = RegularProbe.options(placement="inline").remote()
    b = AsyncProbe.remote()
    (ia, _), (ib, _) = actorio.get([a.thread.remote(), b.thread.remote()], timeout=TIMEOUT)
    assert ia == ib


async def test_actor_created_in_async_test_runs_on_test_loop() -> None:
    me = threading.get_ident()
    h = RegularProbe.remote()
    ident, _ = await h.thread.remote()
    assert ident == me
    a = AsyncProbe.remote()
    assert (await a.thread.remote())[0] == me
    assert (await a.sync_thread.remote())[0] == me
    t = ThreadedProbe.remote()
    ident, name = await t.thread.remote()
    assert ident != me
    assert name.startswith("actorio-worker-")
    placed = RegularProbe.options(placement="thread").remote()
    ident, name = await placed.thread.remote()
    assert ident != me
    assert name.startswith("actorio-worker-")


async def test_actor_created_in_sync_task_from_async_test_runs_on_a_thread() -> None:
    # A def task is plain sync code: the actor it makes may be blocked on, so it gets a
    # thread; it is hosted on the test's loop all the same (an inline one runs there).
    h = await make_probe_in_task.remote()
    ident, name = await h.thread.remote()
    assert ident != threading.get_ident()
    assert name.startswith("actorio-worker-")
    inline = await make_probe_in_task.remote("inline")
    assert await inline.thread.remote() == (threading.get_ident(), threading.current_thread().name)


async def test_actor_created_by_threaded_actor_lives_on_its_host_loop() -> None:
    parent = ThreadedProbe.remote()
    child = await parent.make_child.remote("inline")
    ident, _ = await child.thread.remote()
    assert ident == threading.get_ident()


def test_actor_created_by_actor_from_sync_code_lives_on_runtime_loop() -> None:
    parent = RegularProbe.remote()
    child = actorio.get(parent.make_child.remote("inline"), timeout=TIMEOUT)
    assert actorio.get(child.thread.remote(), timeout=TIMEOUT)[1] == "actorio-loop"


async def test_async_test_does_not_start_runtime_loop_thread() -> None:
    h = RegularProbe.remote()
    await h.thread.remote()
    assert not any(t.name == "actorio-loop" for t in threading.enumerate())


# -- handles from any thread -------------------------------------------------------------------


async def test_handle_from_worker_thread_via_to_thread() -> None:
    h = Counter.remote(10)
    assert await asyncio.to_thread(lambda: actorio.get(h.increment.remote(), timeout=TIMEOUT)) == 11
    assert await h.increment.remote() == 12


async def test_handle_from_many_threads_and_the_loop() -> None:
    h = Counter.remote()
    n_threads, per_thread = 4, 25
    barrier = threading.Barrier(n_threads, timeout=TIMEOUT)

    def hammer() -> list[int]:
        barrier.wait()
        refs = [h.increment.remote() for _ in range(per_thread)]
        return list(actorio.get(refs, timeout=TIMEOUT))

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(n_threads) as pool:
        futures = [loop.run_in_executor(pool, hammer) for _ in range(n_threads)]
        mine = await asyncio.gather(*(h.increment.remote() for _ in range(per_thread)))
        theirs = await asyncio.gather(*futures)
    seen = sorted(mine + [v for values in theirs for v in values])
    assert seen == list(range(1, (n_threads + 1) * per_thread + 1))
    # Each caller sees its own calls in order.
    for values in [mine, *theirs]:
        assert values == sorted(values)


def test_handle_created_in_sync_code_used_from_threads() -> None:
    h = Counter.remote()
    with ThreadPoolExecutor(4) as pool:
        values = list(
            pool.map(lambda _: actorio.get(h.increment.remote(), timeout=TIMEOUT), range(20))
        )
    assert sorted(values) == list(range(1, 21))


# -- clean exit of sync scripts ----------------------------------------------------------------

EXIT_SCRIPT_HEADER = """
import asyncio
import threading

import actorio


@actorio.remote
class Regular:
    def ping(self):
        return "regular"


@actorio.remote
class Async:
    async def ping(self):
        return "async"

    async def wait_forever(self, started):
        never = asyncio.Event()
        started.set()
        await never.wait()


@actorio.remote(max_concurrency=2)
class Threaded:
    def ping(self):
        return "threaded"


r, a, t = Regular.remote(), Async.remote(), Threaded.remote()
print(actorio.get([r.ping.remote(), a.ping.remote(), t.ping.remote()], timeout=10))
started = threading.Event()
pending = a.wait_forever.remote(started)
assert started.wait(10)
"""


def run_script(body: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("ACTORIO_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-X", "dev", "-c", textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=ROOT,
        env=env,
    )


def check_clean_exit(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['regular', 'async', 'threaded']", "end"]
    # No 'Task was destroyed but it is pending', 'never awaited' or any other warning.
    assert proc.stderr == ""


def test_sync_script_exits_cleanly() -> None:
    proc = run_script(
        EXIT_SCRIPT_HEADER
        + """
r.ping.remote()  # fire and forget
a.ping.remote()  # fire and forget
print("end")
"""
    )
    check_clean_exit(proc)


def test_sync_script_exits_cleanly_with_dropped_pending_ref() -> None:
    proc = run_script(
        EXIT_SCRIPT_HEADER
        + """
del pending  # nobody will ever read the failure of the pending call
r.ping.remote()
print("end")
"""
    )
    check_clean_exit(proc)


def test_sync_script_exits_cleanly_after_threaded_fire_and_forget_at_exit() -> None:
    # Deterministic form of the race below: a call to a threaded actor that the loop starts
    # only after interpreter shutdown began. An atexit hook runs after concurrent.futures
    # stopped accepting work (threading's exit hooks run first) and before actorio's own
    # atexit hook (registered earlier, so it runs later). The regular actor's call is queued
    # on the same loop behind the threaded one, so once it returns the loop has tried to
    # start the threaded call.
    proc = run_script(
        EXIT_SCRIPT_HEADER
        + """
import atexit

def at_exit():
    t.ping.remote()
    assert actorio.get(r.ping.remote(), timeout=10) == "regular"

atexit.register(at_exit)
print("end")
"""
    )
    check_clean_exit(proc)


@pytest.mark.slow
def test_sync_script_exits_cleanly_after_threaded_fire_and_forget() -> None:
    # The real-world shape: the last line fires a call at a threaded actor and the script
    # ends. Whether the loop starts that call before or after interpreter shutdown begins
    # is a race, so run it several times; every run must be clean.
    body = (
        EXIT_SCRIPT_HEADER
        + """
t.ping.remote()  # fire and forget, on the threaded actor
r.ping.remote()
print("end")
"""
    )
    with ThreadPoolExecutor(4) as pool:
        procs = list(pool.map(lambda _: run_script(body), range(8)))
    for proc in procs:
        check_clean_exit(proc)


# -- shutdown ----------------------------------------------------------------------------------


def test_shutdown_kills_actors_sync() -> None:
    h = Counter.remote()
    assert actorio.get(h.increment.remote(), timeout=TIMEOUT) == 1
    actorio.shutdown()
    with pytest.raises(ActorDiedError, match="shutdown"):
        actorio.get(h.increment.remote(), timeout=TIMEOUT)


def test_shutdown_fails_pending_calls() -> None:
    h = AsyncProbe.remote()
    started = threading.Event()
    ref = h.wait_forever.remote(started)
    assert started.wait(TIMEOUT)
    actorio.shutdown()
    with pytest.raises(ActorDiedError, match=r"actorio\.shutdown\(\)"):
        actorio.get(ref, timeout=TIMEOUT)


async def test_shutdown_kills_actors_async() -> None:
    h = Counter.remote()
    a = AsyncProbe.remote()
    assert await h.increment.remote() == 1
    started = threading.Event()
    pending = a.wait_forever.remote(started)
    await asyncio.to_thread(started.wait, TIMEOUT)
    assert started.is_set()
    actorio.shutdown()
    with pytest.raises(ActorDiedError, match=r"actorio\.shutdown\(\)"):
        await h.increment.remote()
    with pytest.raises(ActorDiedError, match=r"actorio\.shutdown\(\)"):
        await pending
    with pytest.raises(ActorDiedError, match="shutdown"):
        await a.thread.remote()


def test_shutdown_twice_is_fine() -> None:
    actorio.shutdown()
    actorio.shutdown()
    Counter.remote()
    actorio.shutdown()
    actorio.shutdown()
    assert not actorio.is_initialized()


def test_shutdown_stops_runtime_loop_thread_and_forgets_names() -> None:
    h = Counter.options(name="c").remote()
    assert actorio.get(h.increment.remote(), timeout=TIMEOUT) == 1
    assert any(t.name == "actorio-loop" for t in threading.enumerate())
    actorio.shutdown()
    assert not any(t.name == "actorio-loop" for t in threading.enumerate())
    with pytest.raises(ActorNotFoundError, match="'c'"):
        actorio.get_actor("c")
    # A fresh runtime starts on next use; the name is free again.
    again = Counter.options(name="c").remote(100)
    assert again != h
    assert actorio.get(again.increment.remote(), timeout=TIMEOUT) == 101
