"""Refs and handles go wherever Ray lets them: top-level arguments (resolved before the call),
nested in containers or captured by a closure (they arrive as refs), returned by tasks and
methods, put once and read by many; a handle to a child actor that a worker created comes back
to the driver. Run in-process and with actors in worker processes (on Ray, only what actorio
hands to Ray itself: top-level refs)."""

from __future__ import annotations

import time
import weakref
from typing import Any

import pytest
from _actors import WAIT, collect, resolved

import actorio
from actorio.exceptions import SerializationError


@actorio.remote
class Holder:
    """Keeps what it is given; reads refs it holds."""

    def __init__(self) -> None:
        self.kept: Any = None

    def total(self, value: Any) -> Any:
        return sum(value)

    def keep(self, box: Any) -> str:
        self.kept = box
        return type(box[0]).__name__ if isinstance(box, list) else type(box["ref"]).__name__

    def read_kept(self) -> Any:
        refs = self.kept if isinstance(self.kept, list) else [self.kept["ref"]]
        return actorio.get(refs)

    def pass_on(self, other: Any) -> Any:
        """Hand the refs it holds to another actor, still as refs."""
        return actorio.get(other.read_box.remote(self.kept))

    def read_box(self, box: list[Any]) -> Any:
        return actorio.get(box)

    def drop(self) -> None:
        self.kept = None

    def put_one(self, value: Any) -> actorio.ObjectRef[Any]:
        return actorio.put(value)

    def spawn(self, start: int) -> Any:
        self.child = Holder.remote()
        actorio.get(self.child.keep.remote([actorio.put(start)]))
        return self.child

    def forget_child(self) -> None:
        del self.child

    def call_child(self, child: Any) -> Any:
        return actorio.get(child.read_kept.remote())


@actorio.remote
def add(a: int, b: int) -> int:
    return a + b


@actorio.remote
def concat(a: list[int], b: list[int]) -> list[int]:
    return [*a, *b]


@actorio.remote
def read_all(box: list[Any]) -> list[Any]:
    return actorio.get(box)


@actorio.remote
def make_ref(value: Any) -> actorio.ObjectRef[Any]:
    return actorio.put(value)


@actorio.remote
def chain(value: int) -> actorio.ObjectRef[Any]:
    """Returns the ref of a call it made (maybe still running when the result travels)."""
    return add.remote(value, 1)


class Payload:
    """A value the driver can watch die (weakly referable), that workers can import."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __reduce__(self) -> Any:
        return (Payload, (self.n,))

    def __radd__(self, other: int) -> int:
        return other + self.n

    def __iter__(self) -> Any:
        return iter([self.n])


def _between_processes_of_ours(backend: str) -> None:
    """On Ray, refs and handles inside values travel Ray's own way (unchanged by actorio)."""
    if backend == "ray":
        pytest.skip("nested and returned refs on Ray are Ray's: actorio passes values to it")


def test_a_top_level_ref_is_resolved_before_the_call(backend: str) -> None:
    actorio.init(backend=backend)
    ref = actorio.put([1, 2, 3])
    h = Holder.remote()
    assert actorio.get(h.total.remote(ref), timeout=WAIT) == 6
    assert actorio.get(concat.remote(resolved(ref), [4]), timeout=WAIT) == [1, 2, 3, 4]


def test_nested_refs_arrive_as_refs_that_can_be_read_and_passed_on(backend: str) -> None:
    _between_processes_of_ours(backend)
    actorio.init(backend=backend)
    first, second = actorio.put(10), add.remote(1, 2)
    h, other = Holder.remote(), Holder.remote()
    assert actorio.get(h.keep.remote([first, second]), timeout=WAIT).endswith("Ref")
    assert actorio.get(h.read_kept.remote(), timeout=WAIT) == [10, 3]
    assert actorio.get(h.pass_on.remote(other), timeout=WAIT) == [10, 3]
    assert actorio.get(h.keep.remote({"ref": first}), timeout=WAIT).endswith("Ref")
    assert actorio.get(h.read_kept.remote(), timeout=WAIT) == [10]
    assert actorio.get(read_all.remote([first, second]), timeout=WAIT) == [10, 3]


def test_a_ref_captured_by_a_closure_travels_with_it(backend: str) -> None:
    _between_processes_of_ours(backend)
    actorio.init(backend=backend)
    captured = actorio.put(21)

    @actorio.remote
    def double() -> int:
        return 2 * actorio.get(captured)

    assert actorio.get(double.remote(), timeout=WAIT) == 42


def test_refs_returned_by_tasks_and_methods(backend: str) -> None:
    _between_processes_of_ours(backend)
    actorio.init(backend=backend)
    inner = actorio.get(make_ref.remote({"a": 1}), timeout=WAIT)
    assert isinstance(inner, actorio.ObjectRef)
    assert actorio.get(inner, timeout=WAIT) == {"a": 1}
    assert actorio.get(actorio.get(chain.remote(41), timeout=WAIT), timeout=WAIT) == 42
    h = Holder.remote()
    assert actorio.get(actorio.get(h.put_one.remote("x"), timeout=WAIT), timeout=WAIT) == "x"
    # A returned ref goes on to other workers as a ref.
    assert actorio.get(read_all.remote([inner]), timeout=WAIT) == [{"a": 1}]


def test_one_put_read_by_many_actors_and_tasks(backend: str) -> None:
    actorio.init(backend=backend)
    ref = actorio.put(list(range(100)))
    holders = [Holder.remote() for _ in range(3)]
    sums = [h.total.remote(ref) for h in holders]
    sums += [concat.remote(resolved(ref), [1]) for _ in range(2)]
    values = actorio.get(sums, timeout=WAIT)
    assert values[:3] == [4950] * 3
    assert values[3:] == [[*range(100), 1]] * 2


def test_a_value_lives_while_only_a_worker_holds_its_ref(backend: str) -> None:
    _between_processes_of_ours(backend)
    actorio.init(backend=backend)
    value = Payload(7)
    watch = weakref.ref(value)
    ref = actorio.put(value)
    del value
    h = Holder.remote()
    actorio.get(h.keep.remote([ref]), timeout=WAIT)
    del ref
    collect()
    assert watch() is not None, "the worker still holds the ref"
    assert actorio.get(h.read_kept.remote(), timeout=WAIT)[0].n == 7
    actorio.get(h.drop.remote(), timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while watch() is not None and time.monotonic() < deadline:  # the release is a message
        collect()
    assert watch() is None, "nobody holds the ref any more: its value is freed"


def test_a_child_actor_handle_comes_back_from_its_parent(backend: str) -> None:
    _between_processes_of_ours(backend)
    actorio.init(backend=backend)
    parent = Holder.remote()
    child = actorio.get(parent.spawn.remote(5), timeout=WAIT)
    assert isinstance(child, actorio.ActorHandle)
    assert actorio.get(child.read_kept.remote(), timeout=WAIT) == [5]
    # Passed on to another actor, it still reaches the child.
    other = Holder.remote()
    assert actorio.get(other.call_child.remote(child), timeout=WAIT) == [5]
    # The parent letting go of it does not end it: the driver holds a handle.
    actorio.get(parent.forget_child.remote(), timeout=WAIT)
    collect()
    assert actorio.get(child.read_kept.remote(), timeout=WAIT) == [5]


def test_a_ref_cannot_be_pickled_outside_a_call() -> None:
    import pickle

    ref = actorio.put(1)
    with pytest.raises(SerializationError, match=r"actorio\.get\(ref\)"):
        pickle.dumps(ref)


@actorio.remote
class Promiser:
    """Holds a ref of its own that it settles only when told to."""

    def __init__(self) -> None:
        self.gate: Any = None

    async def pending_twice(self) -> list[Any]:
        import asyncio

        self.gate = asyncio.get_running_loop().create_future()
        self.ref = _settle_with.remote(self.gate)
        return [self.ref, self.ref]

    async def release(self, value: Any) -> None:
        self.gate.set_result(value)

    def hold(self, box: list[Any]) -> int:
        self.box = box
        return len(box)

    def read(self) -> Any:
        return actorio.get(self.box[0], timeout=WAIT)

    def pid(self) -> int:
        import os

        return os.getpid()


@actorio.remote
async def _settle_with(gate: Any) -> Any:
    return await gate


def test_a_pending_ref_sent_twice_settles_both_copies() -> None:
    actorio.init(backend="process")
    p = Promiser.options(max_concurrency=4).remote()
    first, second = actorio.get(p.pending_twice.remote(), timeout=WAIT)
    assert first is second  # one ref in the driver for one ref in the worker
    actorio.get(p.release.remote(5), timeout=WAIT)
    assert actorio.get([first, second], timeout=WAIT) == [5, 5]


def test_a_dead_workers_promises_fail_instead_of_hanging() -> None:
    import os
    import signal

    from actorio.exceptions import ActorDiedError

    actorio.init(backend="process")
    p = Promiser.options(max_concurrency=4).remote()
    pending, _ = actorio.get(p.pending_twice.remote(), timeout=WAIT)
    os.kill(actorio.get(p.pid.remote(), timeout=WAIT), signal.SIGKILL)
    with pytest.raises(ActorDiedError, match="signal 9"):
        actorio.get(pending, timeout=WAIT)


def test_a_ref_whose_value_cannot_cross_fails_clearly() -> None:
    import threading

    actorio.init(backend="process")
    p = Promiser.remote()
    assert actorio.get(p.hold.remote([actorio.put(threading.Lock())]), timeout=WAIT) == 1
    with pytest.raises(SerializationError, match="cannot be sent to another process"):
        actorio.get(p.read.remote(), timeout=WAIT)
    assert actorio.get(p.hold.remote([actorio.put(3)]), timeout=WAIT) == 1  # alive
    assert actorio.get(p.read.remote(), timeout=WAIT) == 3
