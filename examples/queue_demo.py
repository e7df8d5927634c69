"""Queue: a bounded FIFO shared by a producer task and a consumer actor.

The queue's items live in an actor; the ``Queue`` object is a handle to it, so it can be
passed to remote functions and actors (here, on worker processes too) like any handle.
"""

import actorio
from actorio.util.queue import Empty, Full, Queue


@actorio.remote
def produce(q: Queue, n: int) -> str:
    for i in range(n):
        q.put(f"job-{i}")  # blocks while the queue is full (maxsize=2)
    q.put(None)  # the end marker
    return f"produced {n}"


@actorio.remote
class Consumer:
    async def drain(self, q: Queue) -> list[str]:
        done = []
        while (job := await q.get_async()) is not None:  # suspends, never blocks the loop
            done.append(job)
        return done


def main() -> None:
    q = Queue(maxsize=2)
    consumer = Consumer.remote()
    drained = consumer.drain.remote(q)
    print(actorio.get(produce.remote(q, 5)))
    print("consumed:", actorio.get(drained))

    q.put_nowait_batch(["x", "y"])
    try:
        q.put_nowait("z")
    except Full:
        print("full at", q.qsize(), "items")
    print("batch:", q.get_nowait_batch(2))
    try:
        q.get(timeout=0.05)
    except Empty:
        print("empty after waiting 0.05 s")
    q.shutdown()


if __name__ == "__main__":
    main()
