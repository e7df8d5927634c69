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
from actorio.exceptions import (
    ActorDiedError,
    ActorNotFoundError,
    AlreadyInitializedError,
    InvalidOptionsError,
    NotInActorError,
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

    def make_child(self) -> actorio.ActorHandle[Any]:
        return RegularProbe.remote()


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
def make_probe_in_task() -> actorio.ActorHandle[Any]:
    return RegularProbe.remote()


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


def test_actor_created_from_sync_code_runs_on_runtime_loop_thread() -> None:
    for cls in (RegularProbe, AsyncProbe):
        h = cls.remote()
        ident, name = actorio.get(h.thread.remote(), timeout=TIMEOUT)
        assert name == "actorio-loop"
        assert ident != threading.get_ident()
    a = AsyncProbe.remote()
    assert actorio.get(a.sync_thread.remote(), timeout=TIMEOUT)[1] == "actorio-loop"


def test_threaded_actor_runs_on_worker_threads() -> None:
    h = ThreadedProbe.remote()
    _, name = actorio.get(h.thread.remote(), timeout=TIMEOUT)
    assert name.startswith("actorio-SyncProbe")


def test_all_sync_created_actors_share_one_loop_thread() -> None:
    a, b = RegularProbe.remote(), AsyncProbe.remote()
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
    assert name.startswith("actorio-SyncProbe")


async def test_actor_created_in_sync_task_from_async_test_runs_on_test_loop() -> None:
    h = await make_probe_in_task.remote()
    ident, name = await h.thread.remote()
    assert ident == threading.get_ident()
    assert name == threading.current_thread().name


async def test_actor_created_by_threaded_actor_lives_on_its_host_loop() -> None:
    parent = ThreadedProbe.remote()
    child = await parent.make_child.remote()
    ident, _ = await child.thread.remote()
    assert ident == threading.get_ident()


def test_actor_created_by_actor_from_sync_code_lives_on_runtime_loop() -> None:
    parent = RegularProbe.remote()
    child = actorio.get(parent.make_child.remote(), timeout=TIMEOUT)
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
