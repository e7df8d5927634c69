"""Streaming results: a generator method's items reach the caller as they are produced.

Run: python examples/streaming.py
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import actorio


@actorio.remote
class Reader:
    """Reads a 'file' in chunks; the caller sees each chunk as soon as it is read."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.read = 0

    def chunks(self, size: int) -> Iterator[list[str]]:
        for start in range(0, len(self.lines), size):
            self.read += 1
            yield self.lines[start : start + size]

    async def follow(self) -> AsyncIterator[str]:
        """An endless tail -f: only the consumer decides when it ends."""
        n = 0
        try:
            while True:
                await asyncio.sleep(0.001)
                n += 1
                yield f"event {n}"
        finally:
            print("follow: producer closed")

    def chunks_read(self) -> int:
        return self.read


def main() -> None:
    reader = Reader.remote([f"line {i}" for i in range(10)])

    # Plain sync code: each step is a ref that is already done.
    for ref in reader.chunks.remote(4):
        print("chunk:", actorio.get(ref))

    async def consume() -> None:
        # At most two chunks are read ahead of this consumer (Ray's option name).
        slow = reader.chunks.options(_generator_backpressure_num_objects=2).remote(1)
        async for ref in slow:
            if await ref == ["line 2"]:
                break
        await slow.aclose()
        # 3 by the first call, 3 consumed here, 2 read ahead: the rest never were.
        print("chunks read:", await reader.chunks_read.remote())

        # Leaving the loop (or cancelling the consumer) stops an endless producer.
        events = reader.follow.remote()
        async for ref in events:
            event = await ref
            if event == "event 3":
                print("got", event)
                break
        await events.aclose()
        await asyncio.sleep(0.05)

    actorio.run(consume())


if __name__ == "__main__":
    main()
