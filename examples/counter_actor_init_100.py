"""Constructor arguments travel with .remote(...)."""

import actorio


@actorio.remote
class Counter:
    def __init__(self, init_count: int = 0) -> None:
        self.count = init_count

    def increment(self) -> None:
        self.count += 1

    def get_count(self) -> int:
        return self.count


counter = Counter.remote(100)
init_value = actorio.get(counter.get_count.remote())
counter.increment.remote()
after_increment_value = actorio.get(counter.get_count.remote())

print(f"{init_value=}, {after_increment_value=}")
