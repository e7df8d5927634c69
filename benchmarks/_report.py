"""The terminal table and the JSON record of one run."""

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

from ._harness import Config, Row
from .workloads import WORKLOADS

__all__ = ["format_table", "machine_info", "write_json"]

_HEADERS = (
    "loop",
    "workload",
    "system",
    "median",
    "detail",
    "spread",
    "vs bare",
    "target",
    "result",
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


def machine_info() -> dict[str, Any]:
    return {
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "uvloop": _version("uvloop"),
        "actorio": _version("actorio"),
        "git_commit": _git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:.2f}"


def _cells(row: Row) -> tuple[str, ...]:
    workload = WORKLOADS[row.workload]
    if row.status != "ok":
        return (row.loop, row.workload, row.system, row.status)  # may overflow: kept last
    main = row.median[workload.metric]
    detail = " ".join(
        f"{k.removesuffix('_us')}={_number(v)}"
        for k, v in row.median.items()
        if k != workload.metric
    )
    return (
        row.loop,
        row.workload,
        row.system,
        f"{_number(main)} {workload.unit}",
        detail,
        f"{row.spread:.0%}" if row.spread is not None else "",
        f"{row.ratio:.3f}" if row.ratio is not None else "",
        row.target or "",
        row.verdict or "",
    )


def format_table(rows: list[Row]) -> str:
    """Aligned columns; 'spread' is (max - min) / median of the compared metric over repeats."""
    table = [_HEADERS, *(_cells(row) for row in rows)]
    full = [line for line in table if len(line) == len(_HEADERS)]
    widths = [max(len(line[i]) for line in full) for i in range(len(_HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip()
        for line in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def write_json(path: Path, config: Config, rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "machine": machine_info(),
        "config": asdict(config),
        "workloads": {
            w.name: {
                "metric": w.metric,
                "unit": w.unit,
                "higher_is_better": w.higher_is_better,
                "target_ratio": w.target,
            }
            for w in WORKLOADS.values()
        },
        "results": [asdict(row) for row in rows],
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
