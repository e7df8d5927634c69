"""``python -m benchmarks``: measure, print the table, write the JSON record.

The exit status is 0 even when a target is missed: this is a measurement, not a test. It is 1
only when a system failed to run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from ._harness import LOOP_KINDS, Config, run_all
from ._report import format_table, write_json

_FULL = {"n": 100_000, "repeat": 5, "warmup": 2_000}
_QUICK = {"n": 20_000, "repeat": 2, "warmup": 500}  # CI smoke: a few seconds


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
        return value

    return parse


def _loop_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(set(kinds) - set(LOOP_KINDS))
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"choose from {','.join(LOOP_KINDS)}, got {text!r}")
    return kinds


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="actorio vs a bare asyncio-queue actor, on asyncio and uvloop loops.",
    )
    parser.add_argument("--quick", action="store_true", help="small N, 2 repeats (CI smoke)")
    parser.add_argument("--repeat", type=_at_least(1), help="repeats per measurement (5)")
    parser.add_argument("-n", type=_at_least(100), help="calls per measurement (100000)")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).parent / "results" / "latest.json",
        help="where to write the JSON record (benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--loops",
        type=_loop_kinds,
        default=LOOP_KINDS,
        help=f"comma-separated loop kinds ({','.join(LOOP_KINDS)})",
    )
    return parser.parse_args()


def main() -> int:
    args = _parse()
    preset = _QUICK if args.quick else _FULL
    config = Config(
        n=args.n or preset["n"],
        repeat=args.repeat or preset["repeat"],
        warmup=preset["warmup"],
        loops=args.loops,
    )
    rows = run_all(config)
    print(f"\nmedian of {config.repeat} repeats of {config.n:,} calls (warmup {config.warmup:,})")
    print(format_table(rows))
    misses = [r for r in rows if r.verdict == "MISS"]
    for r in misses:
        print(f"MISS: {r.system} {r.workload} on {r.loop}: ratio {r.ratio:.2f}, target {r.target}")
    write_json(args.json, config, rows)
    print(f"\nwrote {args.json}")
    return 1 if any(r.status.startswith("error") for r in rows) else 0


raise SystemExit(main())
