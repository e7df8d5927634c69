"""Named actors: lookup, uniqueness, get-or-create, namespaces, listing, kill and lifetime.

The first two tests run on every backend; the rest check details in-process (constructions
counted in a list shared with the actor, races between threads, async callers)."""

from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from _actors import WAIT, Counter, Keys, collect

import actorio
from actorio.exceptions import (
    ActorDiedError,
    ActorNameTakenError,
    ActorNotFoundError,
    TaskError,
)


@actorio.remote
class Registered:
    def __init__(self, start: int = 0, constructions: list[int] | None = None) -> None:
        self.count = start
        if constructions is not None:
            constructions.append(start)

    def increment(self) -> int:
        self.count += 1
        return self.count

    def value(self) -> int:
        return self.count


def test_named_actors(backend: str) -> None:
    """Lookup, uniqueness, get_if_exists, namespaces, listing and kill, on every backend."""
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
    assert isinstance(taken.value, actorio.exceptions.ActorioError)
    message = str(taken.value)
    assert f"'{name}'" in message
    assert "'default'" in message
    assert "get_if_exists" in message
    assert actorio.get_actor(name) == h  # the first one still holds the name

    # Namespaces: the same name twice, two actors.
    a = Counter.options(backend=backend, name="n", namespace="a").remote(100)
    b = Counter.options(backend=backend, name="n", namespace="b").remote(200)
    assert a != b
    assert actorio.get(a.increment.remote(), timeout=WAIT) == 101
    assert actorio.get_actor("n", namespace="a") == a
    assert actorio.get_actor("n", namespace="b") == b
    assert actorio.get(actorio.get_actor("n", namespace="b").increment.remote(), timeout=WAIT) == (
        201
    )
    with pytest.raises(ActorNotFoundError, match=r"'n'.*'default'"):
        actorio.get_actor("n")

    with pytest.raises(ActorNotFoundError) as missing:
        actorio.get_actor("ghost")
    assert isinstance(missing.value, ValueError)
    assert "'ghost'" in str(missing.value)
    assert "'default'" in str(missing.value)
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
    with pytest.raises(ActorNotFoundError, match=f"Failed to look up actor '{name}'"):
        actorio.get_actor(name)
    new = Counter.options(backend=backend, name=name).remote(50)
    assert new != h
    assert actorio.get_actor(name) == new
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


# -- get_actor ---------------------------------------------------------------------------------


async def test_get_actor_from_async_code() -> None:
    h = Registered.options(name="c").remote(1)
    same = actorio.get_actor("c")
    assert same == h
    assert await same.increment.remote() == 2
    assert await h.value.remote() == 2


def test_get_actor_name_inside_method() -> None:
    @actorio.remote
    class Named:
        def my_name(self) -> str | None:
            return actorio.get_runtime_context().get_actor_name()

    named = Named.options(name="who").remote()
    anonymous = Named.remote()
    assert actorio.get(named.my_name.remote()) == "who"
    assert actorio.get(anonymous.my_name.remote()) is None


# -- duplicate names ---------------------------------------------------------------------------


def test_duplicate_name_in_explicit_namespace_names_it() -> None:
    first = Registered.options(name="dup", namespace="ns1").remote()
    with pytest.raises(ActorNameTakenError, match=r"'dup'.*'ns1'.*get_if_exists"):
        Registered.options(name="dup", namespace="ns1").remote()
    assert actorio.get_actor("dup", namespace="ns1") == first


async def test_duplicate_name_raises_in_async_code() -> None:
    first = Registered.options(name="dup").remote(1)
    with pytest.raises(ActorNameTakenError, match="get_if_exists"):
        Registered.options(name="dup").remote()
    assert await first.increment.remote() == 2


# -- get_if_exists -----------------------------------------------------------------------------


def test_get_if_exists_creates_when_absent() -> None:
    constructions: list[int] = []
    h = Registered.options(name="fresh", get_if_exists=True).remote(7, constructions)
    assert actorio.get(h.value.remote()) == 7
    assert constructions == [7]
    assert actorio.get_actor("fresh") == h


def test_get_if_exists_race_constructs_once() -> None:
    n = 8
    constructions: list[int] = []
    barrier = threading.Barrier(n, timeout=10)

    def create(i: int) -> actorio.ActorHandle[Any]:
        barrier.wait()
        return Registered.options(name="x", get_if_exists=True).remote(i, constructions)

    with ThreadPoolExecutor(n) as pool:
        handles = list(pool.map(create, range(n), timeout=10))

    assert len(handles) == n
    assert all(h == handles[0] for h in handles)
    assert len({h._actorio_id for h in handles}) == 1
    # Every handle reaches the one instance; the n increments land on one counter.
    refs = [h.increment.remote() for h in handles]
    values = actorio.get(refs, timeout=10)
    assert sorted(values) == [v + constructions[0] for v in range(1, n + 1)]
    assert len(constructions) == 1
    assert constructions[0] in range(n)
    assert actorio.util.list_named_actors() == ["x"]


# -- namespaces --------------------------------------------------------------------------------


def test_unknown_name_in_namespace_raises_not_found() -> None:
    present = Registered.options(name="present", namespace="here").remote()
    with pytest.raises(ActorNotFoundError) as info:
        actorio.get_actor("missing", namespace="elsewhere")
    msg = str(info.value)
    assert "'missing'" in msg
    assert "'elsewhere'" in msg
    # The name exists in another namespace only: looking in the wrong one still fails.
    with pytest.raises(ActorNotFoundError, match=r"'present'.*'default'"):
        actorio.get_actor("present")
    assert actorio.get_actor("present", namespace="here") == present


# -- listing -----------------------------------------------------------------------------------


def test_list_named_actors() -> None:
    assert actorio.util.list_named_actors() == []
    assert actorio.util.list_named_actors(all_namespaces=True) == []
    kept = [
        Registered.options(name="one").remote(),
        Registered.options(name="two").remote(),
        Registered.options(name="other", namespace="elsewhere").remote(),
        Registered.remote(),  # anonymous: never listed
    ]
    actorio.get([k.__ray_ready__.remote() for k in kept], timeout=WAIT)  # built, nothing pending

    assert sorted(actorio.util.list_named_actors()) == ["one", "two"]
    listed = actorio.util.list_named_actors(all_namespaces=True)
    assert all(set(entry) == {"name", "namespace"} for entry in listed)
    assert sorted((e["namespace"], e["name"]) for e in listed) == [
        ("default", "one"),
        ("default", "two"),
        ("elsewhere", "other"),
    ]
    del kept
    collect()
    assert actorio.util.list_named_actors(all_namespaces=True) == []  # released


def test_list_named_actors_drops_killed_actors() -> None:
    keep = Registered.options(name="keep").remote()
    gone = Registered.options(name="gone").remote()
    actorio.kill(gone)
    assert actorio.util.list_named_actors() == ["keep"]
    assert actorio.util.list_named_actors(all_namespaces=True) == [
        {"name": "keep", "namespace": "default"}
    ]
    assert actorio.get(keep.increment.remote()) == 1


# -- kill frees the name -----------------------------------------------------------------------


async def test_kill_frees_the_name_in_async_code() -> None:
    old = Registered.options(name="k").remote()
    assert await old.increment.remote() == 1
    actorio.kill(old)
    with pytest.raises(ActorNotFoundError):
        actorio.get_actor("k")
    with pytest.raises(ActorDiedError, match=r"killed with actorio\.kill\(\)"):
        await old.increment.remote()
    new = Registered.options(name="k").remote(10)
    assert await actorio.get_actor("k").increment.remote() == 11
    assert new == actorio.get_actor("k")


def test_get_if_exists_after_kill_creates_a_new_actor() -> None:
    constructions: list[int] = []
    old = Registered.options(name="k", get_if_exists=True).remote(1, constructions)
    actorio.get(old.value.remote())
    actorio.kill(old)
    new = Registered.options(name="k", get_if_exists=True).remote(2, constructions)
    assert new != old
    assert actorio.get(new.value.remote()) == 2
    assert constructions == [1, 2]


# -- lifetime ----------------------------------------------------------------------------------


def gone(name: str) -> None:
    """Wait until no actor answers to ``name`` (at once in-process; Ray releases an actor a
    moment after its last handle is gone)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            actorio.get_actor(name)
        except ActorNotFoundError:
            return
        assert time.monotonic() < deadline, f"{name!r} was not released"
        time.sleep(0.05)


def test_named_actor_is_released_with_its_last_handle(backend: str) -> None:
    """As in Ray: a named actor that is not detached lives while the handle its creation
    returned (or a copy) does, or a call is pending; a handle from get_actor() does not
    keep it alive. Then its name is free again."""
    h = Counter.options(backend=backend, name="kept").remote(3)
    found = actorio.get_actor("kept")
    assert found == h
    assert actorio.get(found.increment.remote(), timeout=WAIT) == 4
    del h
    collect()
    gone("kept")
    with pytest.raises(ActorDiedError) as info:
        actorio.get(found.increment.remote(), timeout=WAIT)
    message = str(info.value)
    assert "named 'kept'" in message
    if backend != "ray":  # (Ray's own error once Ray has released it)
        assert "is gone: it was released once the handles that keep it alive" in message
        assert "get_actor() does not keep an actor alive" in message
    again = Counter.options(backend=backend, name="kept").remote(10)
    assert actorio.get(again.increment.remote(), timeout=WAIT) == 11
    assert actorio.get(actorio.get_actor("kept").get.remote(), timeout=WAIT) == 11


def test_named_actor_dropped_with_a_call_pending_runs_it_first(backend: str) -> None:
    keys = Keys.options(backend=backend).remote()
    h = Counter.options(backend=backend, name="busy").remote()
    ref = h.record.remote(keys.wait_open.remote(1))  # pending until the key opens
    del h
    collect()
    still = actorio.get_actor("busy")  # kept by its pending call
    del still
    keys.open.remote(1)
    assert actorio.get(ref, timeout=WAIT) == [1]
    del ref
    collect()
    gone("busy")


def test_detached_named_actor_lives_until_killed(backend: str) -> None:
    h = Counter.options(backend=backend, name="stays", lifetime="detached").remote(1)
    assert actorio.get(h.increment.remote(), timeout=WAIT) == 2
    del h
    collect()
    found = actorio.get_actor("stays")
    assert actorio.get(found.increment.remote(), timeout=WAIT) == 3
    del found
    collect()
    actorio.kill(actorio.get_actor("stays"))
    gone("stays")


def test_get_if_exists_of_a_live_actor_gives_a_handle_that_does_not_keep_it() -> None:
    constructions: list[int] = []
    first = Registered.options(name="g", get_if_exists=True).remote(1, constructions)
    second = Registered.options(name="g", get_if_exists=True).remote(2, constructions)
    assert second == first
    assert actorio.get(second.increment.remote()) == 2
    del first
    collect()
    with pytest.raises(ActorDiedError, match="named 'g' in namespace 'default' is gone"):
        actorio.get(second.increment.remote())
    assert actorio.util.list_named_actors() == []
    assert constructions == [1]


@actorio.remote
class Selfish:
    def keep_me(self) -> actorio.ActorHandle[Any]:
        self.me = actorio.get_runtime_context().current_actor
        return self.me

    def ping(self) -> str:
        return "pong"


def test_current_actor_handle_does_not_keep_the_actor_alive() -> None:
    h = Selfish.remote()
    me = actorio.get(h.keep_me.remote(), timeout=WAIT)  # also kept by the actor itself
    assert me == h
    assert actorio.get(me.ping.remote(), timeout=WAIT) == "pong"
    del h
    collect()
    with pytest.raises(ActorDiedError, match="is gone: it was released"):
        actorio.get(me.ping.remote(), timeout=WAIT)


async def test_named_actor_is_released_with_its_last_handle_async() -> None:
    h = Registered.options(name="keeper").remote(3)
    found = actorio.get_actor("keeper")
    assert await found.increment.remote() == 4
    del h
    gc.collect()
    with pytest.raises(ActorNotFoundError, match="'keeper'"):
        actorio.get_actor("keeper")
    with pytest.raises(ActorDiedError, match="is gone"):
        await found.increment.remote()


def test_invalid_lifetime_is_rejected() -> None:
    with pytest.raises(actorio.exceptions.InvalidOptionsError, match="lifetime"):
        Registered.options(name="d", lifetime="forever")


# -- init(namespace=...) -----------------------------------------------------------------------


def test_init_namespace_scopes_names() -> None:
    actorio.init(namespace="team")
    assert actorio.get_runtime_context().namespace == "team"
    h = Registered.options(name="t").remote(1)
    assert actorio.get_actor("t") == h
    assert actorio.get_actor("t", namespace="team") == h
    assert actorio.util.list_named_actors() == ["t"]
    assert actorio.util.list_named_actors(all_namespaces=True) == [
        {"name": "t", "namespace": "team"}
    ]
    with pytest.raises(ActorNotFoundError, match=r"'t'.*'default'"):
        actorio.get_actor("t", namespace="default")
    # An explicit namespace option still wins over the runtime's.
    other = Registered.options(name="t", namespace="default").remote(9)
    assert other != h
    assert actorio.get_actor("t", namespace="default") == other
    assert actorio.util.list_named_actors() == ["t"]
    assert actorio.get(h.value.remote()) == 1


def test_default_namespace_without_init() -> None:
    assert actorio.get_runtime_context().namespace == "default"
    actorio.shutdown()
    actorio.init(namespace="team")
    actorio.shutdown()
    # A new runtime after shutdown is back to the default namespace.
    assert actorio.get_runtime_context().namespace == "default"
