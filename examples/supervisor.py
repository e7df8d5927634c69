"""A supervisor restarts children that fail and stops them all when its block ends."""

import asyncio

import actorio

ATTEMPTS: dict[str, int] = {}


@actorio.remote
class Worker:
    def __init__(self, name: str, fail_first: int = 0) -> None:
        ATTEMPTS[name] = ATTEMPTS.get(name, 0) + 1
        if ATTEMPTS[name] <= fail_first:
            raise ConnectionError(f"{name}: backend not up yet")
        self.name = name

    def hello(self) -> str:
        return f"{self.name} up after {ATTEMPTS[self.name]} attempt(s)"


async def main() -> None:
    async with actorio.supervisor("one_for_one", max_restarts=5, within_s=10) as sup:
        db = sup.start(Worker, "db", fail_first=2)  # fails twice, restarted each time
        cache = sup.start(Worker, "cache")
        print(await db.hello.remote())
        print(await cache.hello.remote())
        deaths = [actorio.monitor(child) for child in sup.children]
    # Leaving the block stopped every child.
    print("stopped:", all("supervisor stopped" in str(d) for d in await asyncio.gather(*deaths)))


actorio.run(main())
