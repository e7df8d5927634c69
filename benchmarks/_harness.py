"""Plan the children, run them in paired order, reduce the repeats to medians and ratios.

A *job* is one child process: one system on one loop kind running a group of workloads
(memory and startup each get a child of their own). Each repeat runs every job once. Within
a repeat the jobs of one loop and workload group form a block: that loop's baselines and the
other systems back to back, baselines first in one repeat and last in the next, so a
system's sample and its baseline's sample of the same repeat were measured minutes apart at
most. A row's ratio is the median of those per-repeat ratios: drift on a shared machine moves
both samples of a pair alike, so it cancels instead of landing on one side of the ratio.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ._child import MARK
from ._config import Config, loop_factory, main_loop
from .systems import BASELINES, SYSTEMS, System
from .workloads import WORKLOADS

__all__ = ["INSTALL_HINT", "Job", "Plan", "Row", "job_order", "run"]

INSTALL_HINT = "pip install -e '.[bench]'"
NO_LOOP = "-"  # the loop column of rows that run no loop of ours
#: One child: the system, the loop kind it runs on (NO_LOOP for sync systems), the workloads.
Job = tuple[str, str, tuple[str, ...]]
_CHILD_TIMEOUT_S = 1800
_T = TypeVar("_T")


@dataclass
class Row:
    """One (workload, system, loop) line of the report."""

    workload: str
    system: str
    loop: str
    status: str = "ok"
    samples: list[dict[str, float]] = field(default_factory=list)
    #: The repeat (from 1) each sample was measured in: pairs them with the baseline's.
    repeats: list[int] = field(default_factory=list)
    median: dict[str, float] = field(default_factory=dict)
    spread: float | None = None
    baseline: str | None = None
    #: The median over the repeats of this row's sample / the baseline's sample of that repeat.
    ratio: float | None = None
    #: (max - min) / median of those per-repeat ratios.
    ratio_spread: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: Repeats that failed (their child's stderr is in the log next to the JSON record).
    errors: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.workload, self.system, self.loop)

    @property
    def value(self) -> float | None:
        return self.median.get(WORKLOADS[self.workload].metric) if self.ok else None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.median)

    def settle(self) -> None:
        """A row no repeat measured is an error; one measured at least once keeps its
        samples, and its failed repeats are listed in ``errors``."""
        if self.status == "ok" and not self.samples and self.errors:
            self.status = f"error: {self.errors[-1]}"


@dataclass(frozen=True)
class Plan:
    """What to run: the rows (some already settled as skipped or n/a) and the jobs."""

    config: Config
    loops: tuple[str, ...]
    main_loop: str
    rows: list[Row]
    jobs: list[Job]


def _loops_of(cls: type[System], loops: tuple[str, ...], main: str) -> list[str]:
    if cls.loops == "none":
        return [NO_LOOP]
    return list(loops) if cls.loops == "each" else [main]


def _skip_reason(
    cls: type[System], quick: bool, no_peers: bool, hidden: frozenset[str]
) -> str | None:
    if cls.peer and quick:
        return "skipped (quick run)"
    if cls.peer and no_peers:
        return "skipped (--no-peers)"
    missing = [m for m in cls.requires if m in hidden] or cls.missing()
    if missing:
        return f"skipped (not installed: {INSTALL_HINT})"
    if quick and cls.quick_skip:
        return f"skipped ({cls.quick_skip})"
    return None


def make_plan(
    config: Config,
    systems: Iterable[str],
    workloads: Iterable[str],
    loops: tuple[str, ...],
    *,
    quick: bool = False,
    no_peers: bool = False,
    hidden: frozenset[str] = frozenset(),
) -> Plan:
    """Rows for every (workload, system, loop); jobs for the rows that are to be measured."""
    main = main_loop(loops)
    usable = tuple(k for k in loops if loop_factory(k) is not None)
    rows: list[Row] = []
    jobs: list[Job] = []
    chosen = [w for w in WORKLOADS if w in set(workloads)]
    lacking = {
        w
        for w in chosen
        if any(m in hidden or importlib.util.find_spec(m) is None for m in WORKLOADS[w].requires)
    }
    for name in (s for s in SYSTEMS if s in set(systems)):
        cls = SYSTEMS[name]
        skip = _skip_reason(cls, quick, no_peers, hidden)
        for loop in _loops_of(cls, loops, main):
            groups: dict[str, list[str]] = {}
            for workload in chosen:
                meta = WORKLOADS[workload]
                if not meta.per_loop and loop not in (main, NO_LOOP):
                    continue  # one row per system
                row = Row(workload, name, loop if meta.per_loop else NO_LOOP)
                rows.append(row)
                if skip:
                    row.status = skip
                elif quick and workload in cls.quick_skip_workloads:
                    row.status = f"skipped (quick run: {cls.quick_skip_workloads[workload]})"
                elif workload in cls.not_applicable:
                    row.status = f"n/a ({cls.not_applicable[workload]})"
                elif (unmet := meta.unmet(name)) is not None:
                    row.status = unmet
                elif workload in lacking:
                    row.status = f"skipped (not installed: {INSTALL_HINT})"
                elif loop != NO_LOOP and loop not in usable:
                    row.status = f"skipped ({loop} not installed)"
                else:
                    groups.setdefault(workload if meta.own_child else "calls", []).append(workload)
            jobs += [(name, loop, tuple(group)) for group in groups.values()]
    order = {name: i for i, name in enumerate([*WORKLOADS, *SYSTEMS, NO_LOOP, *loops])}
    rows.sort(key=lambda r: (order[r.workload], order[r.system], order.get(r.loop, 0)))
    return Plan(config, loops, main, rows, jobs)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _run_child(
    system: str, loop: str, workloads: tuple[str, ...], config: Config, log: Path
) -> dict[str, Any]:
    """One child's results by workload; a failed child's stderr is appended to ``log``."""
    argv = [sys.executable, "-m", "benchmarks._child", "--system", system, "--loop", loop]
    argv += ["--workloads", ",".join(workloads), *config.to_argv()]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        record: dict[str, Any] = {"error": f"timed out after {_CHILD_TIMEOUT_S} s"}
    else:
        stderr = done.stderr
        record = {"error": f"child exited {done.returncode} with no result"}
        for line in reversed(done.stdout.splitlines()):
            if line.startswith(MARK):
                record = json.loads(line.removeprefix(MARK))["results"]
                break
    failed = "error" in record or any("error" in r for r in record.values())
    if failed:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            out.write(f"==== {system} ({loop}): {', '.join(workloads)}\n{stderr}\n")
        _progress(f"    failed: {record.get('error') or 'see ' + str(log)}")
    return record


def _rotated(items: list[_T], shift: int) -> list[_T]:
    shift %= max(len(items), 1)
    return items[shift:] + items[:shift]


def job_order(plan: Plan, r: int) -> list[Job]:
    """Repeat ``r``'s jobs (``r`` from 0), each once.

    One block per loop and workload group, sync systems in the main loop's (they pair with
    its baselines): the baselines, then the other systems, in even repeats; the same block
    backwards in odd ones, so each job is as near the baselines as the repeat before, on the
    other side. Every second repeat each side's order rotates, changing which jobs sit next
    to the other side; the blocks' order rotates each repeat. Systems that are not
    ``beside_baselines`` (seconds to start) come after every block: placed in one, they
    would hold the others apart from their baselines."""
    blocks: dict[tuple[str, str], tuple[list[Job], list[Job]]] = {}
    late: list[Job] = []
    for job in plan.jobs:
        system, loop, workloads = job
        if not SYSTEMS[system].beside_baselines:
            late.append(job)
            continue
        first = WORKLOADS[workloads[0]]
        group = first.name if first.own_child else "calls"
        bases, others = blocks.setdefault(
            (loop if loop != NO_LOOP else plan.main_loop, group), ([], [])
        )
        (bases if system in BASELINES else others).append(job)
    order: list[Job] = []
    for bases, others in _rotated(list(blocks.values()), r):
        block = _rotated(bases, r // 2) + _rotated(others, r // 2)
        order += block if r % 2 == 0 else block[::-1]
    return order + _rotated(late, r)


def measure(plan: Plan, log: Path) -> float:
    """Run every job ``repeat`` times; fill the rows' samples. Returns the seconds taken.

    A job that fails is tried again in the next repeats (a peer may fail to start once, say
    while another Ray instance is starting on the machine)."""
    by_key = {row.key: row for row in plan.rows}
    started = time.perf_counter()
    for r in range(plan.config.repeat):
        for system, loop, workloads in job_order(plan, r):
            rows = [
                by_key[(w, system, loop if WORKLOADS[w].per_loop else NO_LOOP)] for w in workloads
            ]
            where = rows[0].loop
            _progress(f"[{r + 1}/{plan.config.repeat}] {system} ({where}): {', '.join(workloads)}")
            record = _run_child(system, loop, workloads, plan.config, log)
            for row in rows:
                result = record.get(row.workload, record)
                if "error" in result:
                    row.errors.append(f"repeat {r + 1}: {result['error']}")
                else:
                    row.samples.append(result["values"])
                    row.repeats.append(r + 1)
                    row.info = result["info"]
    for row in plan.rows:
        row.settle()
    return time.perf_counter() - started


def _better(workload: str, a: float, b: float) -> bool:
    return a > b if WORKLOADS[workload].higher_is_better else a < b


def _spread(values: list[float]) -> float:
    return (max(values) - min(values)) / abs(statistics.median(values) or 1)


def _paired(row: Row, base: Row) -> list[float]:
    """The row's sample over the baseline's, for each repeat that measured both."""
    metric = WORKLOADS[row.workload].metric
    theirs = {r: s[metric] for r, s in zip(base.repeats, base.samples, strict=True)}
    return [
        s[metric] / theirs[r]
        for r, s in zip(row.repeats, row.samples, strict=True)
        if theirs.get(r)
    ]


def summarize(plan: Plan) -> None:
    """Medians over the repeats and the spread of the compared metric; the ratio to the best
    baseline (by median) of the same workload on the same loop (the main loop for rows with
    none): the median of the per-repeat ratios, and their spread."""
    for row in plan.rows:
        if row.status == "ok" and row.samples:
            row.median = {k: statistics.median(s[k] for s in row.samples) for k in row.samples[0]}
            row.spread = _spread([s[WORKLOADS[row.workload].metric] for s in row.samples])
    best: dict[tuple[str, str], Row] = {}
    for row in plan.rows:
        if row.system in BASELINES and row.ok:
            held = best.get((row.workload, row.loop))
            if held is None or _better(row.workload, row.value or 0, held.value or 0):
                best[(row.workload, row.loop)] = row
    for row in plan.rows:
        loop = (
            plan.main_loop if row.loop == NO_LOOP and WORKLOADS[row.workload].per_loop else row.loop
        )
        base = best.get((row.workload, loop))
        ratios = _paired(row, base) if base is not None and row.ok else []
        if base is not None and ratios:
            row.baseline = f"{base.system} ({base.loop})"
            row.ratio, row.ratio_spread = statistics.median(ratios), _spread(ratios)


def run(plan: Plan, log: Path) -> float:
    """Measure and summarize; failed children's stderr goes to ``log``."""
    seconds = measure(plan, log)
    summarize(plan)
    return seconds
