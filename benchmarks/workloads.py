"""What each workload measures, and how its numbers compare; the code that runs them is in
``_calls.py``, ``_bulk.py``, ``_memory.py``, ``_startup.py`` and ``_web.py``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

__all__ = ["WORKLOADS", "Workload"]


@dataclass(frozen=True)
class Workload:
    name: str
    #: The value compared with the baseline and drawn on the chart.
    metric: str
    unit: str
    higher_is_better: bool
    summary: str
    #: Needs a child of its own (a clean heap; or it starts processes itself).
    own_child: bool = False
    #: Whether the loop kind matters (startup runs whole programs: it does not).
    per_loop: bool = True
    #: The best possible value, drawn on the chart (the sleeps' own length).
    ideal: float | None = None
    #: Modules it needs on every system, else its rows are reported as skipped.
    requires: tuple[str, ...] = ()
    #: Programs it runs, looked up on PATH, else its rows are reported as skipped.
    programs: tuple[str, ...] = ()
    #: The systems it is measured on (empty: all); the others' rows are n/a for ``elsewhere``.
    only: tuple[str, ...] = ()
    elsewhere: str = ""

    def unmet(self, system: str) -> str | None:
        """The status of this workload's row on ``system`` when it cannot be measured there."""
        if self.only and system not in self.only:
            return f"n/a ({self.elsewhere})"
        missing = [p for p in self.programs if shutil.which(p) is None]
        return f"skipped ({missing[0]} not installed)" if missing else None


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "pingpong",
            "mean_us",
            "us/call",
            False,
            "one awaited call at a time: mean, p50, p99 per call",
        ),
        Workload(
            "pipelined",
            "calls_per_s",
            "calls/s",
            True,
            "n calls submitted, then gathered: one actor's throughput",
        ),
        Workload(
            "n_n",
            "calls_per_s",
            "calls/s",
            True,
            "8 callers x 8 actors, each caller cycling over the actors, one call at a time",
        ),
        Workload(
            "async_concurrency",
            "wall_s",
            "s",
            False,
            "2,000 concurrent calls of an async method sleeping 10 ms, on one actor",
            ideal=0.01,
        ),
        Workload(
            "threaded_blocking",
            "wall_s",
            "s",
            False,
            "64 calls blocking 50 ms each on a threaded actor with max_concurrency=16",
            ideal=0.2,
        ),
        Workload(
            "cpu_parallel",
            "speedup",
            "x",
            True,
            "two actors each running ~0.5 s of pure Python at once: speed-up over one actor",
            ideal=2.0,
        ),
        Workload(
            "sync_bridge",
            "mean_us",
            "us/call",
            False,
            "calls from plain sync code (no loop in that thread): get(h.inc.remote(1))",
        ),
        Workload(
            "blocking_actors",
            "wall_s",
            "s",
            False,
            "50 regular actors each blocking 0.2 s in time.sleep, called at once from plain sync "
            "code, then one get of all 50",
            per_loop=False,  # the calls block threads, not a loop: one row per system
            ideal=0.2,
        ),
        Workload(
            "bulk_data",
            "arg_s",
            "s",
            False,
            "a 200 MB float64 array to and from actors in worker processes: one call taking it, "
            "one put read by 4 actors, one call returning it; and a 1 KiB array call",
            # A clean heap for 200 MB allocations, and a Ray whose object store holds nothing
            # else.
            own_child=True,
            per_loop=False,  # plain sync code and get(), as users move arrays: one row a system
            requires=("numpy",),
        ),
        Workload(
            "startup",
            "wall_s",
            "s",
            False,
            "a whole program: start Python, create one actor, call it once, exit",
            own_child=True,
            per_loop=False,
        ),
        Workload(
            "memory",
            "beyond_bytes",
            "B/actor",
            False,
            "resident memory per idle actor beyond the user's own object: never called (the "
            "compared value), and after one call each",
            own_child=True,
        ),
        Workload(
            "web_endpoint",
            "actor_vs_plain",
            "x",
            True,
            "a FastAPI counter endpoint (uvicorn on uvloop) under wrk, 32 connections: "
            "requests/s through an actor on the server's loop over the plain endpoint's",
            own_child=True,  # a server and wrk of its own
            per_loop=False,  # uvicorn runs its own loop: uvloop
            ideal=1.0,
            requires=("fastapi", "uvicorn", "httptools", "uvloop"),
            programs=("wrk",),
            only=("actorio-local",),
            elsewhere="one row, on actorio-local: one app serves the three endpoints",
        ),
    )
}
