"""ActorPool: share work out over a few actors, from sync code and from async code.

The sync methods are Ray's (they block, like ``actorio.get``); each has an ``_async`` twin
that suspends instead, so the same pool works inside ``async def`` code without freezing it.
"""

import asyncio

import actorio
from actorio.util import ActorPool


@actorio.remote
class Squarer:
    def __init__(self, name: str) -> None:
        self.name = name

    async def square(self, x: int) -> int:
        await asyncio.sleep(0.01 * (5 - x))  # later values finish sooner
        return x * x


def square(actor: actorio.ActorHandle[Squarer], x: int) -> actorio.ObjectRef[int]:
    ref: actorio.ObjectRef[int] = actor.square.remote(x)
    return ref


def sync_part() -> None:
    pool = ActorPool([Squarer.remote("a"), Squarer.remote("b")])
    print("map:", list(pool.map(square, [1, 2, 3, 4])))  # in the order of the values
    print("map_unordered, sorted:", sorted(pool.map_unordered(square, [1, 2, 3, 4])))
    pool.submit(square, 5)
    print("get_next:", pool.get_next(timeout=10), "has_next:", pool.has_next())


async def async_part() -> None:
    pool = ActorPool([Squarer.remote("c"), Squarer.remote("d")])
    print("map_async:", [x async for x in pool.map_async(square, [1, 2, 3, 4])])
    pool.submit(square, 6)
    print("get_next_async:", await pool.get_next_async(timeout=10))
    try:
        pool.get_next()  # the blocking form, on the loop's thread
    except actorio.exceptions.BlockingCallOnLoopError as err:
        print("on the loop:", str(err).split(",")[0])


if __name__ == "__main__":
    sync_part()
    actorio.run(async_part())
