"""Actors and remote functions for the typing tests (``check_handles.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Generic, TypeVar

import actorio

T = TypeVar("T")


@actorio.remote
class Counter:
    def __init__(self, start: int) -> None:
        self.count = start

    def get_count(self) -> int:
        return self.count

    async def add(self, n: int, *, times: int = 1) -> int:
        self.count += n * times
        return self.count

    def reset(self) -> None:
        self.count = 0

    @actorio.method(num_returns=2)
    def pair(self) -> tuple[int, int]:
        return self.count, self.count

    @actorio.method(concurrency_group="io")
    def grouped(self, x: str) -> str:
        return self.helper(x)  # a marked method stays a plain method inside the class

    def helper(self, x: str) -> str:
        return x

    def chunks(self, size: int) -> Iterator[list[int]]:
        yield [self.count] * size

    async def ticks(self) -> AsyncIterator[str]:
        yield "tick"

    @actorio.method(num_returns=1)
    def first(self) -> Iterator[int]:
        yield self.count

    @actorio.method(num_returns="dynamic")
    def parts(self) -> Iterator[int]:
        yield self.count

    @staticmethod
    def util() -> int:
        return 1

    @property
    def prop(self) -> int:
        return self.count


class Plain:
    """Not decorated: ``actorio.remote(Plain)`` (the call form) is typed as well."""

    def __init__(self, name: str, size: int = 0) -> None:
        self.name = name

    def hello(self, who: str) -> str:
        return f"{self.name}: hello {who}"


class Box(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item = item

    def get(self) -> T:
        return self.item


@actorio.remote
class GenericBox(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item = item

    def get(self) -> T:
        return self.item


@actorio.remote
def double(x: int) -> int:
    return 2 * x


@actorio.remote
async def greet(name: str, punctuation: str = "!") -> str:
    return name + punctuation


@actorio.remote(max_retries=0)
def with_options(x: float) -> float:
    return x
