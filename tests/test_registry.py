"""Named actors: lookup, uniqueness, get-or-create, namespaces, listing, kill and lifetime."""

from __future__ import annotations

import gc
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import actorio
from actorio.exceptions import ActorDiedError, ActorNameTakenError, ActorNotFoundError


@actorio.remote
class Counter:
    def __init__(self, start: int = 0, constructions: list[int] | None = None) -> None:
        self.count = start
        if constructions is not None:
            constructions.append(start)

    def increment(self) -> int:
        self.count += 1
        return self.count

    def value(self) -> int:
        return self.count


# -- get_actor ---------------------------------------------------------------------------------


def test_get_actor_returns_the_same_actor() -> None:
    h = Counter.options(name="c").remote(10)
    assert actorio.get(h.increment.remote()) == 11
    same = actorio.get_actor("c")
    assert same == h
    assert hash(same) == hash(h)
    assert same._actorio_id == h._actorio_id
    # State is shared: both handles reach one instance.
    assert actorio.get(same.increment.remote()) == 12
    assert actorio.get(h.value.remote()) == 12


async def test_get_actor_from_async_code() -> None:
    h = Counter.options(name="c").remote(1)
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


def test_duplicate_name_raises() -> None:
    first = Counter.options(name="dup").remote(5)
    with pytest.raises(ActorNameTakenError) as info:
        Counter.options(name="dup").remote(100)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, actorio.exceptions.ActorioError)
    msg = str(err)
    assert "'dup'" in msg
    assert "'default'" in msg
    assert "get_if_exists" in msg
    # The first actor is unaffected and still holds the name.
    assert actorio.get(first.increment.remote()) == 6
    assert actorio.get_actor("dup") == first
    assert actorio.util.list_named_actors() == ["dup"]


def test_duplicate_name_in_explicit_namespace_names_it() -> None:
    Counter.options(name="dup", namespace="ns1").remote()
    with pytest.raises(ActorNameTakenError, match=r"'dup'.*'ns1'.*get_if_exists"):
        Counter.options(name="dup", namespace="ns1").remote()


async def test_duplicate_name_raises_in_async_code() -> None:
    first = Counter.options(name="dup").remote(1)
    with pytest.raises(ActorNameTakenError, match="get_if_exists"):
        Counter.options(name="dup").remote()
    assert await first.increment.remote() == 2


# -- get_if_exists -----------------------------------------------------------------------------


def test_get_if_exists_returns_existing_and_ignores_arguments() -> None:
    constructions: list[int] = []
    first = Counter.options(name="x", get_if_exists=True).remote(1, constructions)
    assert actorio.get(first.increment.remote()) == 2
    again = Counter.options(name="x", get_if_exists=True).remote(1000, constructions)
    assert again == first
    # The new constructor arguments were ignored: state continues from the first actor.
    assert actorio.get(again.increment.remote()) == 3
    assert constructions == [1]


def test_get_if_exists_creates_when_absent() -> None:
    constructions: list[int] = []
    h = Counter.options(name="fresh", get_if_exists=True).remote(7, constructions)
    assert actorio.get(h.value.remote()) == 7
    assert constructions == [7]
    assert actorio.get_actor("fresh") == h


def test_get_if_exists_race_constructs_once() -> None:
    n = 8
    constructions: list[int] = []
    barrier = threading.Barrier(n, timeout=10)

    def create(i: int) -> actorio.ActorHandle[Any]:
        barrier.wait()
        return Counter.options(name="x", get_if_exists=True).remote(i, constructions)

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


def test_same_name_in_two_namespaces_is_two_actors() -> None:
    a = Counter.options(name="n", namespace="a").remote(100)
    b = Counter.options(name="n", namespace="b").remote(200)
    assert a != b
    assert actorio.get(a.increment.remote()) == 101
    assert actorio.get(b.increment.remote()) == 201
    assert actorio.get_actor("n", namespace="a") == a
    assert actorio.get_actor("n", namespace="b") == b
    assert actorio.get(actorio.get_actor("n", namespace="a").value.remote()) == 101
    # Neither lives in the current (default) namespace.
    with pytest.raises(ActorNotFoundError):
        actorio.get_actor("n")


def test_unknown_name_raises_not_found() -> None:
    with pytest.raises(ActorNotFoundError) as info:
        actorio.get_actor("ghost")
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert "'ghost'" in msg
    assert "'default'" in msg


def test_unknown_name_in_namespace_raises_not_found() -> None:
    Counter.options(name="present", namespace="here").remote()
    with pytest.raises(ActorNotFoundError) as info:
        actorio.get_actor("missing", namespace="elsewhere")
    msg = str(info.value)
    assert "'missing'" in msg
    assert "'elsewhere'" in msg
    # The name exists in another namespace only: looking in the wrong one still fails.
    with pytest.raises(ActorNotFoundError, match=r"'present'.*'default'"):
        actorio.get_actor("present")


# -- listing -----------------------------------------------------------------------------------


def test_list_named_actors() -> None:
    assert actorio.util.list_named_actors() == []
    assert actorio.util.list_named_actors(all_namespaces=True) == []
    Counter.options(name="one").remote()
    Counter.options(name="two").remote()
    Counter.options(name="other", namespace="elsewhere").remote()
    Counter.remote()  # anonymous: never listed

    assert sorted(actorio.util.list_named_actors()) == ["one", "two"]
    listed = actorio.util.list_named_actors(all_namespaces=True)
    assert all(set(entry) == {"name", "namespace"} for entry in listed)
    assert sorted((e["namespace"], e["name"]) for e in listed) == [
        ("default", "one"),
        ("default", "two"),
        ("elsewhere", "other"),
    ]


def test_list_named_actors_drops_killed_actors() -> None:
    keep = Counter.options(name="keep").remote()
    gone = Counter.options(name="gone").remote()
    actorio.kill(gone)
    assert actorio.util.list_named_actors() == ["keep"]
    assert actorio.util.list_named_actors(all_namespaces=True) == [
        {"name": "keep", "namespace": "default"}
    ]
    assert actorio.get(keep.increment.remote()) == 1


# -- kill frees the name -----------------------------------------------------------------------


def test_kill_frees_the_name() -> None:
    old = Counter.options(name="k").remote(1)
    assert actorio.get(old.increment.remote()) == 2
    actorio.kill(old)

    with pytest.raises(ActorNotFoundError, match="'k'"):
        actorio.get_actor("k")
    with pytest.raises(ActorDiedError, match=r"killed with actorio\.kill\(\)"):
        actorio.get(old.increment.remote(), timeout=10)

    new = Counter.options(name="k").remote(50)
    assert new != old
    assert actorio.get_actor("k") == new
    assert actorio.get(actorio.get_actor("k").increment.remote()) == 51
    # The old handle still points at the dead actor, not at the new one.
    with pytest.raises(ActorDiedError):
        actorio.get(old.value.remote(), timeout=10)


async def test_kill_frees_the_name_in_async_code() -> None:
    old = Counter.options(name="k").remote()
    assert await old.increment.remote() == 1
    actorio.kill(old)
    with pytest.raises(ActorNotFoundError):
        actorio.get_actor("k")
    with pytest.raises(ActorDiedError, match=r"killed with actorio\.kill\(\)"):
        await old.increment.remote()
    new = Counter.options(name="k").remote(10)
    assert await actorio.get_actor("k").increment.remote() == 11
    assert new == actorio.get_actor("k")


def test_get_if_exists_after_kill_creates_a_new_actor() -> None:
    constructions: list[int] = []
    old = Counter.options(name="k", get_if_exists=True).remote(1, constructions)
    actorio.get(old.value.remote())
    actorio.kill(old)
    new = Counter.options(name="k", get_if_exists=True).remote(2, constructions)
    assert new != old
    assert actorio.get(new.value.remote()) == 2
    assert constructions == [1, 2]


# -- lifetime ----------------------------------------------------------------------------------


def test_named_actor_outlives_its_creating_handle() -> None:
    h = Counter.options(name="keeper").remote(3)
    assert actorio.get(h.increment.remote()) == 4
    del h
    gc.collect()
    again = actorio.get_actor("keeper")
    assert actorio.get(again.increment.remote()) == 5
    assert actorio.util.list_named_actors() == ["keeper"]


async def test_named_actor_outlives_its_creating_handle_async() -> None:
    h = Counter.options(name="keeper").remote(3)
    assert await h.increment.remote() == 4
    del h
    gc.collect()
    assert await actorio.get_actor("keeper").increment.remote() == 5


def test_detached_lifetime_is_accepted() -> None:
    h = Counter.options(name="d", lifetime="detached").remote(1)
    assert actorio.get(h.increment.remote()) == 2
    del h
    gc.collect()
    assert actorio.get(actorio.get_actor("d").value.remote()) == 2


def test_invalid_lifetime_is_rejected() -> None:
    with pytest.raises(actorio.exceptions.InvalidOptionsError, match="lifetime"):
        Counter.options(name="d", lifetime="forever")


# -- init(namespace=...) -----------------------------------------------------------------------


def test_init_namespace_scopes_names() -> None:
    actorio.init(namespace="team")
    assert actorio.get_runtime_context().namespace == "team"
    h = Counter.options(name="t").remote(1)
    assert actorio.get_actor("t") == h
    assert actorio.get_actor("t", namespace="team") == h
    assert actorio.util.list_named_actors() == ["t"]
    assert actorio.util.list_named_actors(all_namespaces=True) == [
        {"name": "t", "namespace": "team"}
    ]
    with pytest.raises(ActorNotFoundError, match=r"'t'.*'default'"):
        actorio.get_actor("t", namespace="default")
    # An explicit namespace option still wins over the runtime's.
    other = Counter.options(name="t", namespace="default").remote(9)
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
