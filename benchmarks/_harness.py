"""Run every (loop kind, workload, system) combination and reduce the repeats to medians.

Each run gets a fresh event loop (``asyncio.Runner``) and a fresh system adapter, so no run
inherits another's state. Systems are interleaved within each repeat, in an order that
rotates from one repeat to the next, so slow drift on a shared machine hits all of them alike.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from .systems import BASELINE, SYSTEMS, System
from .workloads import WORKLOADS, Workload

__all__ = ["LOOP_KINDS", "Config", "Row", "run_all"]

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

LOOP_KINDS = ("asyncio", "uvloop")


@dataclass(frozen=True)
class Config:
    n: int
    repeat: int
    warmup: int
    loops: tuple[str, ...]


@dataclass
class Row:
    """One (loop, workload, system) line of the report."""

    loop: str
    workload: str
    system: str
    status: str = "ok"
    samples: list[dict[str, float]] = field(default_factory=list)
    median: dict[str, float] = field(default_factory=dict)
    spread: float | None = None
    ratio: float | None = None
    target: str | None = None
    verdict: str | None = None


def _loop_factory(kind: str) -> LoopFactory | None:
    """The factory for a loop kind, or None when its package is not installed."""
    if kind == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _run_once(
    system_cls: type[System], workload: Workload, factory: LoopFactory, config: Config
) -> dict[str, float]:
    system = system_cls()
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(workload.run(system, config.n, config.warmup))
    finally:
        system.close()


def _progress(text: str, end: str = "") -> None:
    """One stderr line per repeat, naming each system as it starts (a hang shows where)."""
    print(text, end=end, file=sys.stderr, flush=True)


def _measure(kind: str, workload: Workload, config: Config) -> list[Row]:
    rows = [
        Row(kind, workload.name, name)
        for name, cls in SYSTEMS.items()
        if workload.name not in cls.excludes
    ]
    factory = _loop_factory(kind)
    if factory is None:
        for row in rows:
            row.status = f"skipped ({kind} not installed)"
        return rows
    for row in rows:
        if not SYSTEMS[row.system].installed():
            row.status = "skipped (not installed)"
    active = [row for row in rows if row.status == "ok"]
    for r in range(config.repeat):
        _progress(f"{kind} {workload.name} {r + 1}/{config.repeat}:")
        shift = r % max(len(active), 1)
        for row in active[shift:] + active[:shift]:
            if row.status != "ok":
                continue
            _progress(f" {row.system}")
            try:
                row.samples.append(_run_once(SYSTEMS[row.system], workload, factory, config))
            except Exception as exc:
                _progress("", end="\n")
                traceback.print_exc()
                row.status = f"error: {type(exc).__name__}: {exc}"
        _progress("", end="\n")
    _summarize(rows, workload)
    return rows


def _summarize(rows: list[Row], workload: Workload) -> None:
    """Medians over the repeats, spread of the compared metric, ratio to the baseline."""
    for row in rows:
        if row.status == "ok":
            row.median = {k: statistics.median(s[k] for s in row.samples) for k in row.samples[0]}
            values = [s[workload.metric] for s in row.samples]
            row.spread = (max(values) - min(values)) / row.median[workload.metric]
    base = next((row for row in rows if row.system == BASELINE and row.status == "ok"), None)
    if base is None:
        return
    for row in rows:
        if row is base or row.status != "ok":
            continue
        row.ratio = row.median[workload.metric] / base.median[workload.metric]
        if SYSTEMS[row.system].judged:
            row.target = workload.target_text
            row.verdict = "PASS" if workload.meets(row.ratio) else "MISS"


def run_all(config: Config) -> list[Row]:
    """Every loop kind, every workload, every system: the rows of the report, in order."""
    rows: list[Row] = []
    for kind in config.loops:
        for workload in WORKLOADS.values():
            rows.extend(_measure(kind, workload, config))
    return rows
