"""actorio's targets (issue 8), judged on the rows of one run.

A target is met or missed, never an error: the run is a measurement. One whose rows were not
measured (a peer not installed, a loop left out) is reported as such. Every target compares a
ratio with a limit: the subject's value (actorio-local's, unless the target names another)
over the best bare one, over a fixed reference (the ideal of a sleep, a budget, a figure
measured before a change), over Ray's or over a floor's in the same run; or Ray's call over
actorio-local's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._harness import NO_LOOP, Plan, Row
from .workloads import WORKLOADS

__all__ = ["TARGETS", "Target", "Verdict", "judge"]

SUBJECT = "actorio-local"
FLOOR = "memcpy"  # bulk_data's floor: one copy of the array into fresh memory


@dataclass(frozen=True)
class Target:
    name: str
    workload: str
    #: "baseline": the row's ratio to the best bare (the median of the per-repeat ratios,
    #: each repeat's sample over the best bare's of that repeat); "reference": value /
    #: ``reference``; "ray": Ray's value over the subject's on the main loop; "over_ray": the
    #: subject's value over Ray's; "floor": the subject's value over the floor's (its
    #: workload metric).
    against: str
    limit: float
    higher_is_better: bool = False
    reference: float | None = None
    #: The value judged, a key of the row's medians (None: the workload's metric).
    key: str | None = None
    subject: str = SUBJECT

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
    #: The spread of the per-repeat ratios, for a ratio to the best bare.
    spread: float | None = None


PROCESS = "actorio-process"
#: bulk_data's timings of the big array, each judged against Ray's and against the floor.
_BULK = (
    ("arg_s", "one call taking the array"),
    ("put4_s", "put + 4 actors reading it"),
    ("ret_s", "one call returning an array"),
)

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
        "memory after one call each <= 1536 B/actor beyond the user object",
        "memory",
        "reference",
        1,
        reference=1536,
        key="used_beyond_bytes",
    ),
    Target(
        "startup of the seed counter script < 0.35 s", "startup", "reference", 1, reference=0.35
    ),
    Target(
        "web_endpoint: through an actor >= 0.97x plain's requests/s",
        "web_endpoint",
        "reference",
        0.97,
        True,
        reference=1.0,  # the metric is that ratio already, paired round by round
    ),
    *(
        Target(
            f"{PROCESS} bulk_data: {what} <= 1.0x Ray's",
            "bulk_data",
            "over_ray",
            1.0,
            key=key,
            subject=PROCESS,
        )
        for key, what in _BULK
    ),
    *(
        Target(
            f"{PROCESS} bulk_data: {what} <= 3x one fresh memcpy",
            "bulk_data",
            "floor",
            3.0,
            key=key,
            subject=PROCESS,
        )
        for key, what in _BULK
    ),
    Target(
        # Measured before large buffers used shared memory (commit 2a000a3; docs/performance.md).
        f"{PROCESS} bulk_data: a 1 KiB array call not slower than before (367 us)",
        "bulk_data",
        "reference",
        1.0,
        reference=367e-6,
        key="small_s",
        subject=PROCESS,
    ),
)


def _value(row: Row | None, key: str | None) -> float | None:
    if row is None or not row.ok:
        return None
    return row.value if key is None else row.median.get(key)


def _judge_row(target: Target, row: Row, other: Row | None) -> Verdict:
    """``other``: Ray's row of the workload for the Ray targets, the floor's for "floor"."""
    measured, ratio, spread = _value(row, target.key), None, None
    theirs = _value(other, None if target.against == "floor" else target.key)
    if target.against == "baseline":
        ratio, spread = row.ratio, row.ratio_spread
    elif target.against == "reference" and measured is not None and target.reference:
        ratio = measured / target.reference
    elif target.against == "ray" and theirs is not None and measured:
        measured, ratio = theirs, theirs / measured
    elif target.against in ("over_ray", "floor") and measured is not None and theirs:
        ratio = measured / theirs
    if ratio is None:
        measured = None if target.against == "ray" else measured
        why = row.status if not row.ok else "its reference was not measured"
        if target.against in ("ray", "over_ray", "floor") and theirs is None:
            name = FLOOR if target.against == "floor" else "ray"
            why = other.status if other is not None else f"{name} not selected"
        result = f"not measured: {why}"
    else:
        result = "PASS" if target.meets(ratio) else "MISS"
    unit = WORKLOADS[target.workload].unit
    return Verdict(target.name, row.loop, measured, unit, ratio, target.text, result, spread)


def judge(plan: Plan) -> list[Verdict]:
    rows = {row.key: row for row in plan.rows}
    verdicts: list[Verdict] = []
    for target in TARGETS:
        subjects = [
            r for r in plan.rows if r.workload == target.workload and r.system == target.subject
        ]
        if target.against in ("ray", "over_ray", "floor"):
            subjects = [r for r in subjects if r.loop in (plan.main_loop, NO_LOOP)]
        if not subjects:
            verdicts.append(Verdict(target.name, "-", None, "", None, target.text, "not measured"))
        other = rows.get((target.workload, FLOOR if target.against == "floor" else "ray", NO_LOOP))
        verdicts += [_judge_row(target, row, other) for row in subjects]
    return verdicts
