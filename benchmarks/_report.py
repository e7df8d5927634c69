"""The terminal table, the targets block and the JSON record of one run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ._harness import Plan, Row
from ._targets import Verdict
from .systems import SYSTEMS
from .workloads import WORKLOADS

__all__ = ["format_number", "format_table", "format_targets", "machine_info", "write_json"]

PACKAGES = (
    "actorio",
    "uvloop",
    "ray",
    "pykka",
    "xoscar",
    "numpy",
    "matplotlib",
    "fastapi",
    "uvicorn",
    "httptools",
)


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """The commit measured (with '+dirty' for local changes), to line results up over time."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty=+dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    mem = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or None,
        "cores": os.cpu_count(),
        "ram_gb": round(int(mem.split()[0]) / 2**20, 1) if mem else None,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "packages": {p: _version(p) for p in PACKAGES},
        "git_commit": _git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def machine_line(machine: dict[str, Any]) -> str:
    """One line naming the machine, for the table's and the chart's footer."""
    pkgs = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
    return (
        f"{machine['cpu']}, {machine['cores']} cores, {machine['ram_gb']} GB; "
        f"{machine['os']}; Python {machine['python']}; {pkgs}; "
        f"commit {machine['git_commit']}; {machine['date']}"
    )


def format_number(value: float, unit: str) -> str:
    if unit == "s" and value < 1e-3:
        return f"{value * 1e6:.1f} us"
    if unit == "s":
        return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "B/actor":
        return f"{value / 1e6:,.1f} MB" if value >= 1e6 else f"{value:,.0f} B"
    if unit == "calls/s" or value >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}"


def _web(m: dict[str, float], info: dict[str, Any]) -> list[str]:
    """web_endpoint's routes: requests/s and latency of each, the ratios, how wrk ran."""
    parts = []
    for route, name in (("actor", "actor"), ("sleep0", "sleep(0)"), ("plain", "plain")):
        rate = f"{name} {m[f'{route}_rps']:,.0f} req/s"
        ratio = f" ({m[f'{route}_vs_plain']:.2f}x plain)" if route == "sleep0" else ""
        p50 = format_number(m[f"{route}_p50_us"] / 1e6, "s")
        p99 = format_number(m[f"{route}_p99_us"] / 1e6, "s")
        parts.append(f"{rate}{ratio}, p50 {p50} p99 {p99}")
    if "connections" in info:
        parts.append(
            f"wrk {info['threads']} thread x {info['connections']} connections, "
            f"{info['seconds']} s a run"
        )
    return parts


def _detail(row: Row) -> str:
    m, unit = row.median, WORKLOADS[row.workload].unit
    parts: list[str] = []
    if "plain_rps" in m:
        parts += _web(m, row.info)
    if "p50_us" in m:
        parts.append(f"p50 {m['p50_us']:.2f} p99 {m['p99_us']:.2f}")
    if "serial_s" in m:
        two, one = format_number(m["wall_s"], "s"), format_number(m["serial_s"], "s")
        parts.append(f"2 actors {two}, 1 actor {one}")
    if "per_actor_bytes" in m:
        parts.append(
            f"{m['per_actor_bytes']:,.0f} B/actor - {m['user_object_bytes']:,.0f} B user object"
        )
    if "used_beyond_bytes" in m:
        parts.append(f"after one call each {format_number(m['used_beyond_bytes'], unit)} beyond")
    if "best_s" in m:
        parts.append(f"best {format_number(m['best_s'], unit)}")
    if "put4_s" in m:
        put4, ret = format_number(m["put4_s"], unit), format_number(m["ret_s"], unit)
        small = format_number(m["small_s"], unit)
        parts.append(f"put + 4 readers {put4}, returned {ret}, 1 KiB call {small}")
    if "prealloc_s" in m:
        parts.append(f"into a preallocated buffer {format_number(m['prealloc_s'], unit)}")
    if "bytes" in row.info:
        parts.append(f"{row.info['bytes'] / 1e6:,.0f} MB")
    if "vs_ideal" in m:
        parts.append(f"{m['vs_ideal']:.2f}x the ideal")
    for key in ("n", "actors", "rounds"):
        if key in row.info:
            parts.append(f"{key}={row.info[key]:,}")
    if row.errors:
        parts.append(f"FAILED in {len(row.errors)} repeat(s): {row.errors[0]}")
    return "; ".join(parts)


_HEADERS = ("workload", "system", "loop", "median", "spread", "vs best bare", "detail")


def _cells(row: Row) -> tuple[str, ...]:
    workload = WORKLOADS[row.workload]
    if not row.ok:
        return (row.workload, row.system, row.loop, row.status)  # may overflow: kept last
    own = row.baseline == f"{row.system} ({row.loop})"
    ratio = "baseline" if own else _ratio(row.ratio, row.ratio_spread)
    return (
        row.workload,
        row.system,
        row.loop,
        format_number(row.value or 0.0, workload.unit),
        f"{row.spread:.0%}" if row.spread is not None else "",
        ratio,
        _detail(row),
    )


def _ratio(ratio: float | None, spread: float | None) -> str:
    if ratio is None:
        return ""
    digits = 0 if ratio >= 100 else 3 if ratio < 0.1 else 2
    text = f"{ratio:,.{digits}f}x"
    return text if spread is None else f"{text} ±{spread:.0%}"


def _align(table: list[tuple[str, ...]], width_of: int) -> list[str]:
    full = [line for line in table if len(line) == width_of]
    widths = [max(len(line[i]) for line in full) for i in range(width_of)]
    out = []
    for line in table:
        cells = [c.ljust(w) for c, w in zip(line, widths, strict=False)]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def _skipped_systems(rows: list[Row]) -> dict[str, str]:
    """Systems skipped as a whole (not installed, quick run): one line each, not one per row."""
    statuses: dict[str, set[str]] = {}
    for row in rows:
        statuses.setdefault(row.system, set()).add(row.status)
    return {
        system: next(iter(found))
        for system, found in statuses.items()
        if len(found) == 1 and next(iter(found)).startswith("skipped")
    }


def format_table(rows: list[Row]) -> str:
    """Aligned columns, a blank line between workloads. 'spread' is (max - min) / median of
    the compared value over the repeats; 'vs best bare' is the median over the repeats of
    value / the best bare's value of the same repeat (same loop), with the spread of those
    ratios: above 1 is slower for times and faster for calls/s and speed-ups."""
    skipped = _skipped_systems(rows)
    table: list[tuple[str, ...]] = [_HEADERS]
    previous = None
    for row in rows:
        if row.system in skipped:
            continue
        if previous is not None and row.workload != previous:
            table.append(("",))
        table.append(_cells(row))
        previous = row.workload
    lines = _align(table, len(_HEADERS))
    lines += [f"{system}: {status}" for system, status in skipped.items()]
    return "\n".join(lines)


def format_targets(verdicts: list[Verdict]) -> str:
    table: list[tuple[str, ...]] = [
        ("target (actorio-local unless named)", "loop", "measured", "ratio", "limit", "result")
    ]
    for v in verdicts:
        measured = format_number(v.measured, v.unit) if v.measured is not None else ""
        ratio = f"{v.ratio:.2f}" if v.ratio is not None else ""
        ratio += f" ±{v.spread:.0%}" if v.spread is not None else ""
        table.append((v.target, v.loop, measured, ratio, v.limit, v.result))
    return "\n".join(_align(table, 6))


def write_json(
    path: Path, plan: Plan, verdicts: list[Verdict], machine: dict[str, Any], seconds: float
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "machine": machine,
        "config": {**plan.config.asdict(), "loops": list(plan.loops), "main_loop": plan.main_loop},
        "duration_s": round(seconds, 1),
        "workloads": {name: asdict(w) for name, w in WORKLOADS.items()},
        "systems": {
            name: {
                "summary": cls.summary,
                "peer": cls.peer,
                "loops": cls.loops,
                "max_calls": cls.max_calls,
                "memory_actors": cls.memory_actors,
                "memory_scope": cls.memory_scope,
            }
            for name, cls in SYSTEMS.items()
        },
        "results": [asdict(row) for row in plan.rows],
        "targets": [asdict(v) for v in verdicts],
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
