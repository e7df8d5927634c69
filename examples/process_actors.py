"""CPU-bound actors in worker processes: real parallelism, isolation, the same API.

backend="process" puts each actor in its own worker process (cloudpickle carries classes
defined in __main__). Two of them crunch at once on two cores; a crash of one (here, a
SIGKILL) touches no other actor, and with max_restarts it comes back in a fresh process,
where max_task_retries re-runs the calls it had in flight.
"""

import os
import signal
import time

import actorio


@actorio.remote(backend="process", max_restarts=1, max_task_retries=1)
class Cruncher:
    def crunch(self, n: int) -> int:
        return sum(i * i % 7 for i in range(n))

    def pid(self) -> int:
        return os.getpid()


a, b = Cruncher.remote(), Cruncher.remote()
pids = actorio.get([a.pid.remote(), b.pid.remote()])
print(f"two workers, neither is the driver: {len(set(pids)) == 2 and os.getpid() not in pids}")

n = 2_000_000
start = time.perf_counter()
one_after_the_other = actorio.get([a.crunch.remote(n), a.crunch.remote(n)])
serial = time.perf_counter() - start
start = time.perf_counter()
side_by_side = actorio.get([a.crunch.remote(n), b.crunch.remote(n)])
parallel = time.perf_counter() - start
print(f"same results: {one_after_the_other == side_by_side}")
print(f"faster side by side: {serial / parallel > 1.3}")

os.kill(pids[0], signal.SIGKILL)  # a crash in one worker...
print(f"b unaffected: {actorio.get(b.crunch.remote(10)) == 19}")
print(f"a restarted in a new process: {actorio.get(a.pid.remote()) != pids[0]}")
