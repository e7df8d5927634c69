"""The counter in an await-based script: actors live on the script's own loop.

actorio.run() runs on uvloop when it is installed. Same-loop calls involve no thread hop.
"""

import asyncio

import actorio


@actorio.remote
class Counter:
    def __init__(self, init_count: int = 0) -> None:
        self.count = init_count

    def increment(self) -> int:
        self.count += 1
        return self.count

    def get_count(self) -> int:
        return self.count


async def main() -> None:
    counter = Counter.remote(100)
    print(f"init_value={await counter.get_count.remote()}")
    # Submit 1,000 increments at once; the actor runs them one at a time, in order.
    results = await asyncio.gather(*(counter.increment.remote() for _ in range(1000)))
    print(f"first={results[0]}, last={results[-1]}, in_order={results == sorted(results)}")
    async with asyncio.timeout(1):
        print(f"final={await counter.get_count.remote()}")


actorio.run(main())
