"""CPU-bound actors in worker processes: real parallelism, isolation, the same API.

backend="process" puts each actor in its own worker process (cloudpickle carries classes
defined in __main__). Two of them crunch at once on two cores; a crash of one (here, a
SIGKILL) touches no other actor, and with max_restarts it comes back in a fresh process,
where max_task_retries re-runs the calls it had in flight.
"""

import os
import signal

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
one_after_the_other = actorio.get([a.crunch.remote(n), a.crunch.remote(n)])
side_by_side = actorio.get([a.crunch.remote(n), b.crunch.remote(n)])
print(f"same results: {one_after_the_other == side_by_side}")
# The speed-up (about 1.9x on two cores) is measured by `python -m benchmarks` (cpu_parallel);
# timing is not printed here so that the output is the same on every machine.

os.kill(pids[0], signal.SIGKILL)  # a crash in one worker...
print(f"b unaffected: {actorio.get(b.crunch.remote(10)) == 19}")
print(f"a restarted in a new process: {actorio.get(a.pid.remote()) != pids[0]}")
