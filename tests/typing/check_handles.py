"""Typing tests, checked by mypy with ``actorio.mypy_plugin`` (tests/test_typing.py).

Never run: mypy reads it. The actors live in ``actors.py``, so that a second, incremental
run reads them (and what the plugin learnt about them) from mypy's cache. ``assert_type``
lines are the positive cases; each expected error carries ``# type: ignore[<code>]``, and
``warn_unused_ignores`` (in strict) fails the check if that error stops being reported.
"""

from __future__ import annotations

from typing import Any, assert_type

from actors import Box, Counter, GenericBox, Plain, double, greet, with_options

import actorio
from actorio import (
    ActorClass,
    ActorHandle,
    ActorMethod,
    ObjectRef,
    ObjectRefGenerator,
    RemoteFunction,
)


async def handles() -> None:
    h = Counter.remote(1)
    assert_type(h, ActorHandle[Counter])
    assert_type(Counter.remote(start=1), ActorHandle[Counter])
    assert_type(Counter.options(name="c", max_concurrency=2).remote(1), ActorHandle[Counter])
    Counter.remote("x")  # type: ignore[arg-type]
    Counter.remote()  # type: ignore[call-arg]

    # methods: parameters and results, async ones awaited
    assert_type(h.get_count, ActorMethod[[], int])
    assert_type(h.get_count.remote(), ObjectRef[int])
    assert_type(await h.get_count.remote(), int)
    assert_type(h.add.remote(2), ObjectRef[int])
    assert_type(h.add.remote(2, times=3), ObjectRef[int])
    assert_type(await h.add.remote(2), int)
    assert_type(h.reset.remote(), ObjectRef[None])
    assert_type(h.grouped.remote("a"), ObjectRef[str])
    assert_type(await h.add.submit(1), ObjectRef[int])
    assert_type(h.add.options(timeout=1.0).remote(1), ObjectRef[int])
    assert_type(h.__ray_ready__.remote(), ObjectRef[bool])
    h.add.remote("x")  # type: ignore[arg-type]
    h.add.remote(1, times="x")  # type: ignore[arg-type]

    # generator methods stream: refs of the yielded items
    assert_type(h.chunks.remote(2), ObjectRefGenerator[list[int]])
    assert_type(h.first.remote(), ObjectRef[int])  # a generator declaring one ref
    assert_type(h.parts, Any)  # "dynamic": a ref to a DynamicObjectRefGenerator
    assert_type(h.chunks.options(num_returns=2), Any)
    for ref in h.chunks.remote(2):
        assert_type(ref, ObjectRef[list[int]])
    async for tick in h.ticks.options(_generator_backpressure_num_objects=4).remote():
        assert_type(await tick, str)
    h.chunks.remote("x")  # type: ignore[arg-type]
    h.get_count.remote(1)  # type: ignore[call-arg]
    h.nope.remote()  # type: ignore[attr-defined]
    h.util.remote()  # type: ignore[attr-defined]
    h.prop.remote()  # type: ignore[attr-defined]
    h.count.remote()  # type: ignore[attr-defined]
    h.get_count()  # actor methods raise DirectCallError: NoReturn
    h.add.options(num_returns=2).remote(1)[0]  # several refs: untyped
    h.pair.remote()[1]  # @actorio.method(num_returns=2): untyped

    # the sync API
    r1, r2 = h.get_count.remote(), h.add.remote(1)
    assert_type(actorio.get(r1), int)
    assert_type(actorio.get([r1, r2]), list[int])
    assert_type(actorio.get((r1, r1)), list[int])
    assert_type(actorio.put("v"), ObjectRef[str])

    # ActorHandle[Any] (get_actor) has untyped methods, and no false errors
    anyh = actorio.get_actor("c")
    assert_type(anyh, ActorHandle[Any])
    anyh.whatever.remote(1, 2, x=3)


async def generic_actor() -> None:
    gb = GenericBox.remote("s")
    assert_type(gb, ActorHandle[GenericBox[str]])
    assert_type(await gb.get.remote(), str)


def typed_parameters(h: ActorHandle[Counter], b: ActorHandle[Box[str]]) -> None:
    assert_type(h.get_count.remote(), ObjectRef[int])
    assert_type(b.get.remote(), ObjectRef[str])


async def call_form() -> None:
    plain = actorio.remote(Plain)
    positional: ActorClass[Plain, [str, int]] = plain  # the constructor's parameters
    assert_type(positional.remote("a", 1), ActorHandle[Plain])
    assert_type(plain.remote("a"), ActorHandle[Plain])
    assert_type(plain.options(name="p").remote("a", size=2), ActorHandle[Plain])
    plain.remote(1)  # type: ignore[arg-type]
    assert_type(await plain.remote("a").hello.remote("b"), str)
    assert_type(actorio.remote(Box).remote(3), ActorHandle[Box[Any]])  # generic: unchecked
    assert_type(actorio.remote(max_restarts=1)(Plain).remote("a"), ActorHandle[Plain])


async def functions() -> None:
    positional: RemoteFunction[int, [int]] = double
    assert_type(positional.remote(1), ObjectRef[int])
    assert_type(double.remote(2), ObjectRef[int])
    assert_type(greet.remote("a"), ObjectRef[str])
    assert_type(await greet.remote("a", punctuation="?"), str)
    assert_type(with_options.remote(1.0), ObjectRef[float])
    assert_type(double.options(name="d").remote(1), ObjectRef[int])
    double.remote("x")  # type: ignore[arg-type]
    greet.remote()  # type: ignore[call-arg]
    double.options(num_returns=2).remote(1)[0]  # several refs: untyped


async def supervised() -> None:
    async with actorio.supervisor("one_for_one") as sup:
        assert_type(sup.start(Counter, 1), ActorHandle[Counter])
