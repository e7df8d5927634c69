"""actorio's targets (issue 8), judged on the rows of one run.

A target is met or missed, never an error: the run is a measurement. One whose rows were not
measured (a peer not installed, a loop left out) is reported as such. Every target compares a
ratio with a limit: actorio-local's value over the best bare one, over a fixed reference (the
ideal of a sleep, a budget), or Ray's call over actorio-local's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._harness import NO_LOOP, Plan, Row
from .workloads import WORKLOADS

__all__ = ["TARGETS", "Target", "Verdict", "judge"]

SUBJECT = "actorio-local"


@dataclass(frozen=True)
class Target:
    name: str
    workload: str
    #: "baseline": the row's ratio to the best bare; "reference": value / ``reference``;
    #: "ray": Ray's value over actorio-local's on the main loop.
    against: str
    limit: float
    higher_is_better: bool = False
    reference: float | None = None

    def meets(self, ratio: float) -> bool:
        return ratio >= self.limit if self.higher_is_better else ratio <= self.limit

    @property
    def text(self) -> str:
        return f"ratio {'>=' if self.higher_is_better else '<='} {self.limit:g}"


@dataclass
class Verdict:
    target: str
    loop: str
    measured: float | None
    unit: str
    ratio: float | None
    limit: str
    result: str  # PASS, MISS or "not measured: why"


TARGETS = (
    Target("pingpong mean within 1.25x of the best bare", "pingpong", "baseline", 1.25),
    Target("Ray's call (pingpong) >= 100x actorio-local's", "pingpong", "ray", 100, True),
    Target("pipelined >= 0.9x the best bare's calls/s", "pipelined", "baseline", 0.9, True),
    Target("n_n >= 0.9x the best bare's calls/s", "n_n", "baseline", 0.9, True),
    Target(
        "async_concurrency <= 2x the ideal 10 ms",
        "async_concurrency",
        "reference",
        2,
        reference=0.01,
    ),
    Target(
        "threaded_blocking <= 1.3x the ideal 0.2 s",
        "threaded_blocking",
        "reference",
        1.3,
        reference=0.2,
    ),
    Target(
        "blocking_actors (50 actors) <= 1.5x the ideal 0.2 s",
        "blocking_actors",
        "reference",
        1.5,
        reference=0.2,
    ),
    Target(
        "memory <= 1536 B/idle actor beyond the user object",
        "memory",
        "reference",
        1,
        reference=1536,
    ),
    Target(
        "startup of the seed counter script < 0.35 s", "startup", "reference", 1, reference=0.35
    ),
)


def _judge_row(target: Target, row: Row, ray: Row | None) -> Verdict:
    measured, ratio = row.value, None
    if target.against == "baseline":
        ratio = row.ratio
    elif target.against == "reference" and measured is not None and target.reference:
        ratio = measured / target.reference
    elif target.against == "ray" and ray is not None and ray.ok and measured:
        measured = ray.value
        ratio = (ray.value or 0) / row.value if row.value else None
    if ratio is None:
        measured = None if target.against == "ray" else measured
        why = row.status if not row.ok else "its reference was not measured"
        if target.against == "ray" and (ray is None or not ray.ok):
            why = ray.status if ray is not None else "ray not selected"
        result = f"not measured: {why}"
    else:
        result = "PASS" if target.meets(ratio) else "MISS"
    unit = WORKLOADS[target.workload].unit
    return Verdict(target.name, row.loop, measured, unit, ratio, target.text, result)


def judge(plan: Plan) -> list[Verdict]:
    rows = {row.key: row for row in plan.rows}
    verdicts: list[Verdict] = []
    for target in TARGETS:
        subjects = [r for r in plan.rows if r.workload == target.workload and r.system == SUBJECT]
        if target.against == "ray":
            subjects = [r for r in subjects if r.loop in (plan.main_loop, NO_LOOP)]
        if not subjects:
            verdicts.append(Verdict(target.name, "-", None, "", None, target.text, "not measured"))
        ray = rows.get((target.workload, "ray", NO_LOOP))
        verdicts += [_judge_row(target, row, ray) for row in subjects]
    return verdicts
