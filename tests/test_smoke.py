import asyncio

import actorio


@actorio.remote
class Counter:
    def __init__(self, start: int = 0) -> None:
        self.count = start

    def increment(self) -> int:
        self.count += 1
        return self.count


async def test_await_on_own_loop() -> None:
    c = Counter.remote(5)
    assert await c.increment.remote() == 6
    assert list(await asyncio.gather(c.increment.remote(), c.increment.remote())) == [7, 8]


def test_sync_get() -> None:
    c = Counter.remote()
    assert actorio.get(c.increment.remote()) == 1
