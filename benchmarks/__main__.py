"""``python -m benchmarks``: measure, print the table and the targets, write JSON and PNG.

The exit status is 0 even when a target is missed: this is a measurement, not a test. It is 1
only when a system failed to run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from . import _chart, _harness, _report, _targets
from ._config import FULL, LOOP_KINDS, QUICK
from .systems import SYSTEMS
from .workloads import WORKLOADS

RESULTS = Path(__file__).parent / "results"


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
        return value

    return parse


def _names(choices: tuple[str, ...] | list[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(k.strip() for k in text.split(",") if k.strip())
        unknown = sorted(set(names) - set(choices))
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {','.join(choices)}, got {text!r}")
        return names

    return parse


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="actorio against hand-written baselines and peer frameworks, one child "
        "process per system; full run: pip install -e '.[bench]' && python -m benchmarks",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small N, 2 repeats, no peers (CI smoke, ~1.5 min)"
    )
    parser.add_argument(
        "--systems",
        type=_names(list(SYSTEMS)),
        default=tuple(SYSTEMS),
        help=f"comma-separated ({','.join(SYSTEMS)})",
    )
    parser.add_argument(
        "--workloads",
        type=_names(list(WORKLOADS)),
        default=tuple(WORKLOADS),
        help=f"comma-separated ({','.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--loops",
        type=_names(LOOP_KINDS),
        default=LOOP_KINDS,
        help=f"comma-separated loop kinds ({','.join(LOOP_KINDS)})",
    )
    parser.add_argument("--repeat", type=_at_least(1), help="repeats (5; --quick: 2)")
    parser.add_argument("-n", type=_at_least(100), help="calls per per-call workload (100000)")
    parser.add_argument(
        "--memory-actors",
        type=_at_least(100),
        help="idle actors per memory measurement (100000; --quick: 10000)",
    )
    parser.add_argument(
        "--bulk-n",
        type=_at_least(1024),
        help="float64 elements of bulk_data's array (25000000, 200 MB; --quick: 250000, 2 MB)",
    )
    parser.add_argument(
        "--web-s",
        type=_at_least(1),
        help="seconds of each wrk run of web_endpoint, per route and round (3; --quick: 1)",
    )
    parser.add_argument("--no-peers", action="store_true", help="leave out ray, pykka, xoscar")
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULTS / "latest.json",
        help="where to write the JSON record (benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--chart",
        type=Path,
        default=RESULTS / "latest.png",
        help="where to write the PNG chart (benchmarks/results/latest.png)",
    )
    parser.add_argument(
        "--hide-modules",
        type=lambda t: frozenset(t.split(",")),
        default=frozenset(),
        metavar="MODULES",
        help="treat these modules as not installed (tests the skip path)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    preset = QUICK if args.quick else FULL
    config = dataclasses.replace(
        preset,
        n=args.n or preset.n,
        repeat=args.repeat or preset.repeat,
        warmup=min(preset.warmup, (args.n or preset.n) // 10),
        memory_actors=args.memory_actors or preset.memory_actors,
        bulk_n=args.bulk_n or preset.bulk_n,
        web_s=args.web_s or preset.web_s,
    )
    plan = _harness.make_plan(
        config,
        args.systems,
        args.workloads,
        args.loops,
        quick=args.quick,
        no_peers=args.no_peers,
        hidden=args.hide_modules,
    )
    log = args.json.with_suffix(".errors.log")
    log.unlink(missing_ok=True)
    seconds = _harness.run(plan, log)
    verdicts = _targets.judge(plan)
    machine = _report.machine_info()
    print(
        f"\nmedians of {config.repeat} repeats, one child process per system and loop; "
        "'vs best bare': the median of each repeat's ratio to the best bare's sample of that "
        f"repeat, ± their spread; {seconds:.0f} s"
    )
    print(_report.format_table(plan.rows))
    print("\ntargets")
    print(_report.format_targets(verdicts))
    print(f"\n{_report.machine_line(machine)}")
    _report.write_json(args.json, plan, verdicts, machine, seconds)
    print(f"wrote {args.json}")
    print(_chart.draw(args.chart, plan, verdicts, machine))
    if any(row.errors for row in plan.rows):
        print(f"some runs failed: their errors are in the JSON and their stderr in {log}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
