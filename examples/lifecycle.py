"""Restarts, retries, lifecycle hooks and death notification.

The Session actor opens a (pretend) connection in __actorio_start__ and closes it in
__actorio_stop__. It may restart once; calls caught by the restart are retried once.
"""

import asyncio

import actorio

EVENTS: list[str] = []


@actorio.remote(max_restarts=1, max_task_retries=1)
class Session:
    def __init__(self, user: str) -> None:
        self.user = user
        self.requests = 0

    async def __actorio_start__(self) -> None:
        await asyncio.sleep(0)  # e.g. open an aiohttp session or a database pool
        EVENTS.append(f"open {self.user}")

    async def __actorio_stop__(self) -> None:
        EVENTS.append(f"close {self.user} after {self.requests} requests")

    async def request(self, path: str) -> str:
        self.requests += 1
        await asyncio.sleep(0.01)
        return f"{self.user} GET {path} #{self.requests}"


async def main() -> None:
    session = Session.remote("ada")
    assert await session.__ray_ready__.remote()  # constructed, start hook done
    print(await session.request.remote("/a"))

    # A failure (here simulated with no_restart=False): the actor restarts with fresh state,
    # and the call that was in flight is retried on the new instance.
    in_flight = session.request.remote("/b")
    await asyncio.sleep(0)
    actorio.kill(session, no_restart=False)
    print(await in_flight)

    # Death for good: the monitor tells why, after the stop hook ran.
    death = actorio.monitor(session)
    actorio.kill(session)
    reason = await death
    print(f"dead: {type(reason).__name__}: killed={'actorio.kill()' in str(reason)}")
    print("events:", "; ".join(EVENTS))


actorio.run(main())
