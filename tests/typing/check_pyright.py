"""What pyright checks without a plugin (tests/test_typing.py runs it when installed).

pyright applies class decorators, so a decorated class is an ``ActorClass`` value (not a
type) and handle attributes are ``Any``: no false errors, fewer checks than with mypy.
"""

from __future__ import annotations

from typing import Any, assert_type

import actorio
from actorio import ActorClass, ActorHandle, ObjectRef


@actorio.remote
class Counter:
    def __init__(self, start: int) -> None:
        self.count = start

    def get_count(self) -> int:
        return self.count

    @actorio.method(num_returns=2)
    def pair(self) -> tuple[int, int]:
        return self.count, self.count


class Plain:
    def __init__(self, name: str) -> None:
        self.name = name

    def hello(self) -> str:
        return self.name


PlainActor = actorio.remote(Plain)  # the call form keeps Plain usable as a type


@actorio.remote
def double(x: int) -> int:
    return 2 * x


@actorio.remote(max_retries=1)
async def greet(name: str) -> str:
    return name


async def main() -> None:
    h = Counter.options(name="c").remote(1)  # ActorHandle[Counter], a type pyright cannot spell
    assert_type(h.get_count, Any)  # methods are untyped here, never wrongly typed
    await h.get_count.remote()
    h.pair.remote()[0]
    assert_type(PlainActor, ActorClass[Plain])
    p: ActorHandle[Plain] = PlainActor.remote("a")
    await p.hello.remote()
    assert_type(double.remote(2), ObjectRef[int])
    assert_type(await greet.remote("a"), str)
    assert_type(actorio.get(double.remote(1)), int)
    assert_type(actorio.get([double.remote(1)]), list[int])
    double.remote("x")  # pyright: ignore[reportArgumentType]
    greet.remote()  # pyright: ignore[reportCallIssue]
