"""The PNG: one panel per workload, one bar per system and loop, baseline and targets drawn.

matplotlib is optional (the bench and test extras install it) and imported only here, only
when a chart is asked for, with the Agg backend (no display needed).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

from ._harness import NO_LOOP, Plan, Row
from ._report import format_number, machine_line
from ._targets import FLOOR, TARGETS, Verdict
from .systems import BASELINES, SYSTEMS
from .workloads import WORKLOADS

__all__ = ["draw"]

_COLORS = {"subject": "#1f77b4", "baseline": "#7f7f7f", "floor": "#c7c7c7", "peer": "#ff7f0e"}


def _color(system: str) -> str:
    if system.startswith("actorio"):
        return _COLORS["subject"]
    if system in BASELINES:
        return _COLORS["baseline"]
    return _COLORS["peer"] if SYSTEMS[system].peer else _COLORS["floor"]


def _label(row: Row) -> str:
    return row.system if row.loop == NO_LOOP else f"{row.system} ({row.loop})"


def _lines(workload: str, rows: list[Row], plan: Plan) -> list[tuple[float, str, str, str]]:
    """(x, label, color, style) of the reference lines of one panel."""
    lines = []
    meta = WORKLOADS[workload]
    # Only measured baselines: one that is n/a for this workload has no value to draw.
    base = [
        r for r in rows if r.system in BASELINES and r.ok and r.loop in (plan.main_loop, NO_LOOP)
    ]
    if base:
        best = (max if meta.higher_is_better else min)(base, key=lambda r: r.value or 0.0)
        where = "" if best.loop == NO_LOOP else f" ({best.loop})"
        lines.append((best.value or 0.0, f"best bare{where}", "#555555", "--"))
    if meta.ideal is not None:
        lines.append((meta.ideal, "ideal", "#2ca02c", ":"))
    for target in TARGETS:
        if target.workload != workload or target.key not in (None, meta.metric):
            continue  # the panel draws the workload's metric only
        if target.against == "reference" and target.reference:
            lines.append((target.limit * target.reference, "target", "#d62728", "-."))
        elif target.against == "baseline" and base:
            lines.append((target.limit * (lines[0][0]), "target (main loop)", "#d62728", "-."))
        elif target.against in ("floor", "over_ray"):
            # A limit relative to another row of this panel: drawn where that row's bar ends.
            other = FLOOR if target.against == "floor" else "ray"
            found = [r for r in rows if r.system == other and r.ok and r.value]
            if found:
                label = f"target ({target.limit:g}x {other})"
                lines.append((target.limit * (found[0].value or 0.0), label, "#d62728", "-."))
    return lines


def _panel(ax: Any, workload: str, plan: Plan) -> None:
    meta = WORKLOADS[workload]
    rows = [r for r in plan.rows if r.workload == workload]
    shown = [r for r in rows if r.ok and r.value is not None and r.value > 0]
    ax.set_title(
        f"{workload} ({meta.unit}, {'higher' if meta.higher_is_better else 'lower'} is better)",
        fontsize=9,
    )
    if not shown:
        ax.text(0.5, 0.5, "nothing measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    values = [r.value or 0.0 for r in shown]
    ys = range(len(shown))
    ax.barh(ys, values, color=[_color(r.system) for r in shown])
    ax.set_yticks(list(ys), [_label(r) for r in shown], fontsize=7)
    ax.invert_yaxis()
    lines = _lines(workload, rows, plan)
    every = values + [x for x, *_ in lines]
    if max(every) / min(every) > 30:
        ax.set_xscale("log")
    for y, row in zip(ys, shown, strict=True):
        ax.text(
            row.value or 0.0,
            y,
            " " + format_number(row.value or 0.0, meta.unit),
            va="center",
            fontsize=6,
        )
    for x, label, color, style in lines:
        ax.axvline(x, color=color, linestyle=style, linewidth=1, label=label)
    if lines:
        ax.legend(fontsize=6, loc="best", framealpha=0.9)
    right = max(every) * (8 if ax.get_xscale() == "log" else 1.35)
    ax.set_xlim(right=right)
    ax.tick_params(axis="x", labelsize=7)
    hidden: dict[str, list[str]] = {}
    for r in rows:
        names = hidden.setdefault(r.status.split(" ")[0].rstrip(":"), [])
        if not r.ok and r.system not in names:
            names.append(r.system)
    text = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in hidden.items() if names)
    if text:
        ax.set_xlabel(f"not shown ({text})", fontsize=6)


def draw(path: Path, plan: Plan, verdicts: list[Verdict], machine: dict[str, Any]) -> str:
    """Write the chart; return the line to print (where, or why it was skipped)."""
    if importlib.util.find_spec("matplotlib") is None:
        return "chart skipped (pip install -e '.[bench]')"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w for w in WORKLOADS if any(r.workload == w for r in plan.rows)]
    cols = 3 if len(workloads) > 4 else max(len(workloads), 1)
    grid = math.ceil(len(workloads) / cols)
    fig, axes = plt.subplots(grid, cols, figsize=(6 * cols, 4.2 * grid), squeeze=False)
    for ax, workload in zip(axes.flat, workloads, strict=False):
        _panel(ax, workload, plan)
    for ax in list(axes.flat)[len(workloads) :]:
        ax.set_axis_off()
    passed = sum(v.result == "PASS" for v in verdicts)
    fig.suptitle(
        f"actorio benchmarks: targets {passed}/{len(verdicts)} met "
        f"(blue: actorio, grey: hand-written baselines and floors, orange: peers)",
        fontsize=11,
    )
    fig.text(0.5, 0.005, machine_line(machine), ha="center", fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"wrote {path}"
