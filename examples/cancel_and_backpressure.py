"""Cancellation, per-call timeouts and backpressure on an async actor."""

import asyncio

import actorio
from actorio.exceptions import CallTimeoutError, PendingCallsLimitExceeded, TaskCancelledError


@actorio.remote(max_concurrency=2, max_pending_calls=4)
class Crawler:
    def __init__(self) -> None:
        self.cancelled = 0

    async def fetch(self, url: str, seconds: float) -> str:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled += 1  # the coroutine sees the cancellation and may clean up
            raise
        return f"fetched {url}"

    def cancellations(self) -> int:
        return self.cancelled


async def main() -> None:
    crawler = Crawler.remote()

    slow = crawler.fetch.remote("/slow", 60)
    actorio.cancel(slow)
    try:
        await slow
    except TaskCancelledError:
        print("cancelled: /slow")

    try:
        await crawler.fetch.options(timeout=0.05).remote("/hang", 60)
    except CallTimeoutError:
        print("timed out: /hang")

    # Four calls may be pending; the fifth .remote() is refused, submit() waits for room.
    refs = [crawler.fetch.remote(f"/p{i}", 0.05) for i in range(4)]
    try:
        crawler.fetch.remote("/p4", 0.05)
    except PendingCallsLimitExceeded:
        print("mailbox full: remote() refused /p4")
    refs.append(await crawler.fetch.submit("/p4", 0.05))
    print(await asyncio.gather(*refs))
    # /slow was dropped before it started; /hang was running and saw CancelledError.
    print("cancellations seen inside the actor:", await crawler.cancellations.remote())


actorio.run(main())
