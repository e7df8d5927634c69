"""Ray-backend costs: ``python -m benchmarks.ray_backend [--quick]`` (needs the ray extra).

- ``startup``: ``actorio.init(backend="ray")`` (a local Ray instance) to a first answer;
- ``create``: a new actor to its first answer, Ray already up;
- ``call``: one awaited call at a time through actorio, next to the same call made with
  Ray's own API (``ray.get(a.inc.remote(1))``) in the same run: actorio's own overhead.
"""

from __future__ import annotations

import argparse
import statistics
import time

import actorio


class PlainCounter:
    def __init__(self) -> None:
        self.n = 0

    def inc(self, x: int) -> int:
        self.n += x
        return self.n


Counter = actorio.remote(PlainCounter)


async def actorio_calls(n: int) -> float:
    counter = Counter.remote()
    for _ in range(50):
        await counter.inc.remote(1)
    start = time.perf_counter()
    for _ in range(n):
        await counter.inc.remote(1)
    return (time.perf_counter() - start) / n * 1e6


def ray_calls(n: int) -> float:
    import ray

    counter = ray.remote(PlainCounter).remote()
    for _ in range(50):
        ray.get(counter.inc.remote(1))
    start = time.perf_counter()
    for _ in range(n):
        ray.get(counter.inc.remote(1))
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, 2 repeats")
    args = parser.parse_args()
    n, repeat = (200, 2) if args.quick else (2_000, 5)
    start = time.perf_counter()
    actorio.init(backend="ray", num_cpus=2)
    first = Counter.remote()
    actorio.get(first.inc.remote(1))
    startup = time.perf_counter() - start
    creates = []
    for _ in range(repeat):
        start = time.perf_counter()
        actorio.get(Counter.remote().inc.remote(1))
        creates.append(time.perf_counter() - start)
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(actorio.run(actorio_calls(n)))
        theirs.append(ray_calls(n))
    print(f"Ray backend, {repeat} repeats")
    print(f"startup  {startup:.2f} s: actorio.init(backend='ray') (local Ray) to a first answer")
    print(f"create   {statistics.median(creates) * 1e3:.0f} ms: a new actor to its first answer")
    print(
        f"call     {statistics.median(ours):.0f} us awaited through actorio, "
        f"{statistics.median(theirs):.0f} us with Ray's own ray.get (same run)"
    )
    actorio.shutdown()


if __name__ == "__main__":
    main()
