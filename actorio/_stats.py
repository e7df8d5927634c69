"""Per-actor call statistics: what the state API, the metrics and the dashboard read.

Kept cheap enough for the hot path: a call adds one clock read, one counter and one append
to a bounded ring; means and percentiles are computed only when someone asks.
"""

from __future__ import annotations

import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._seam import ActorCore

__all__ = ["ActorState", "CallStats", "ErrorRecord", "make_state", "percentile"]

#: latencies kept for the percentiles: the most recent calls only
_WINDOW = 1024
#: how far the list of latencies may grow past the window before its oldest are dropped
_SLACK = 256
#: errors kept per actor, with their tracebacks
_ERRORS = 5

#: (wall-clock time, method, exception type, traceback text)
ErrorRecord = tuple[float, str, str, str]


class CallStats:
    """Counters of one actor's calls; written by the actor's host loop (or its reply reader)."""

    __slots__ = ("completed", "errors", "failed", "latencies")

    def __init__(self) -> None:
        self.completed = 0
        self.failed = 0
        # Made on first use, and small: one sample is kept as a bare float (an actor called
        # once then costs 24 B for it), more in a list, not a deque (which starts with a
        # 64-slot block, ~0.7 KB).
        self.latencies: list[float] | float | None = None
        self.errors: deque[ErrorRecord] | None = None

    def sample(self, latency: float) -> None:
        """Keep one call's latency (seconds); the oldest go once the list outgrows the
        window by ``_SLACK``, so trimming costs a fraction of an append."""
        ring = self.latencies
        if isinstance(ring, list):
            ring.append(latency)
            if len(ring) > _WINDOW + _SLACK:
                del ring[:_SLACK]
        elif ring is None:
            self.latencies = latency
        else:
            self.latencies = [ring, latency]

    def window(self) -> list[float]:
        """The latencies of the latest calls (at most ``_WINDOW``)."""
        ring = self.latencies
        if ring is None:
            return []
        if isinstance(ring, float):
            return [ring]
        return ring[-_WINDOW:]

    def ok(self, latency: float) -> None:
        self.completed += 1
        self.sample(latency)

    def error(self, latency: float | None, method: str, exc: BaseException | None) -> None:
        """A failed call (``exc``: what its caller gets, a TaskError usually); None for a
        cancellation, which is counted but not listed. ``latency`` None: not timed."""
        self.failed += 1
        if latency is not None:
            self.sample(latency)
        if exc is not None:
            if self.errors is None:
                self.errors = deque(maxlen=_ERRORS)
            # A TaskError carries the method's own traceback (also across processes).
            text = getattr(exc, "traceback_str", None) or "".join(traceback.format_exception(exc))
            root = exc
            while isinstance(getattr(root, "cause", None), BaseException):
                root = root.cause  # type: ignore[attr-defined]
            self.errors.append((time.time(), method, type(root).__name__, text))

    def mean_ms(self) -> float:
        ring = self.window()
        return sum(ring) / len(ring) * 1e3 if ring else 0.0

    def p99_ms(self) -> float:
        return percentile(self.window(), 0.99) * 1e3

    def recent_errors(self) -> list[ErrorRecord]:
        return list(self.errors or ())


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; 0.0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass(frozen=True, slots=True)
class ActorState:
    """One actor as the state API, the metrics and the dashboard see it (a snapshot).

    ``state`` uses Ray's names: PENDING_CREATION, ALIVE, RESTARTING, DEAD, plus STOPPING
    (a graceful shutdown is letting accepted calls finish). Latency is per call, in
    milliseconds, mean and 99th percentile over the latest 1,024 calls:
    in-process, the time a method ran; for process actors, the round trip seen by the driver.
    """

    actor_id: str
    class_name: str
    name: str | None
    namespace: str
    backend: str
    mode: str
    state: str
    pid: int
    restarts: int
    mailbox_depth: int
    calls_running: int
    calls_completed: int
    calls_failed: int
    latency_mean_ms: float
    latency_p99_ms: float
    #: the latest errors raised by its methods: (time, method, exception type, traceback)
    errors: tuple[ErrorRecord, ...] = field(default=())

    def asdict(self) -> dict[str, object]:
        """Plain JSON-ready values (errors as objects with named fields)."""
        values: dict[str, object] = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "errors"
        }
        values["errors"] = [
            {"time": t, "method": m, "type": kind, "traceback": text}
            for t, m, kind, text in self.errors
        ]
        return values


def make_state(
    core: ActorCore,
    backend: str,
    state: str,
    pid: int,
    restarts: int,
    depth: int,
    running: int,
    stats: CallStats,
) -> ActorState:
    """The snapshot of one actor core (any backend) from what only the backend knows."""
    return ActorState(
        actor_id=core.actor_id,
        class_name=core.spec.name,
        name=core.name,
        namespace=core.namespace,
        backend=backend,
        mode=core.mode,
        state=state,
        pid=pid,
        restarts=restarts,
        mailbox_depth=depth,
        calls_running=running,
        calls_completed=stats.completed,
        calls_failed=stats.failed,
        latency_mean_ms=stats.mean_ms(),
        latency_p99_ms=stats.p99_ms(),
        errors=tuple(stats.recent_errors()),
    )
