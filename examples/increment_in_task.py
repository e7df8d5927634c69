"""A handle passed into a remote task: the task's calls and the driver's are one FIFO.

The task submits ten increments without waiting for them and returns; the driver's later
get_count is queued after them, so it always sees 10.
"""

import actorio


@actorio.remote
class Counter:
    def __init__(self, init_count: int = 0) -> None:
        self.count = init_count

    def increment(self) -> None:
        self.count += 1

    def get_count(self) -> int:
        return self.count


@actorio.remote
def increment(counter: actorio.ActorHandle[Counter], increment_num: int) -> None:
    for _ in range(increment_num):
        counter.increment.remote()


counter = Counter.remote()
actorio.get(increment.remote(counter, 10))
count = actorio.get(counter.get_count.remote())
print(f"{count=}")
