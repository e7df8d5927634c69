"""Name an actor, then find it again from anywhere in the namespace."""

import actorio


@actorio.remote
class Counter:
    def __init__(self, init_count: int = 0) -> None:
        self.count = init_count

    def increment(self) -> None:
        self.count += 1

    def get_count(self) -> int:
        return self.count


counter_origin = Counter.options(name="counter").remote()
actorio.get(counter_origin.increment.remote())
counter_origin_value = actorio.get(counter_origin.get_count.remote())
print(f"{counter_origin_value=}")

counter_from_namespace = actorio.get_actor("counter")
actorio.get(counter_from_namespace.increment.remote())
counter_from_namespace_value = actorio.get(counter_from_namespace.get_count.remote())
print(f"{counter_from_namespace_value=}")
