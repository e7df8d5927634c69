"""Typed handles: mypy (with actorio.mypy_plugin) checks calls across the .remote() hop.

Run: python examples/typed_handles.py
Check: mypy --config-file tests/typing/mypy.ini examples/typed_handles.py
"""

from __future__ import annotations

from collections.abc import Iterator

import actorio
from actorio import ActorHandle, ObjectRef


@actorio.remote
class Inventory:
    def __init__(self, stock: dict[str, int]) -> None:
        self.stock = dict(stock)

    def take(self, item: str, n: int = 1) -> bool:
        if self.stock.get(item, 0) < n:
            return False
        self.stock[item] -= n
        return True

    async def count(self, item: str) -> int:
        return self.stock.get(item, 0)

    def items(self) -> Iterator[tuple[str, int]]:
        yield from sorted(self.stock.items())


async def restock_report(inv: ActorHandle[Inventory]) -> list[str]:
    took: ObjectRef[bool] = inv.take.remote("apple", 2)  # checked: (str, int) -> bool
    lines = [f"took 2 apples: {await took}"]
    lines.append(f"apples left: {await inv.count.remote('apple')}")  # int, awaited for you
    async for ref in inv.items.remote():  # a generator method streams its items
        name, n = await ref
        lines.append(f"{name}={n}")
    # inv.take.remote(2)        -> error: Argument 1 has incompatible type "int"; expected "str"
    # inv.sell.remote("apple")  -> error: Actor "Inventory" has no remote method "sell"
    return lines


def main() -> None:
    inv = Inventory.remote({"apple": 5, "pear": 1})
    for line in actorio.run(restock_report(inv)):
        print(line)


if __name__ == "__main__":
    main()
