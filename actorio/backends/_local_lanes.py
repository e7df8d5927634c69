"""The lanes of an in-process actor: which lane a call takes, what they hold, and how calls
are taken out and put back when the actor restarts or dies.

An actor has one lane per concurrency group, plus the default one and one for the builtins
(``__ray_ready__``, which never waits behind user calls). Everything here runs on
the host loop or under the actor's lock; nothing here decides a policy (the actor passes its
retry counts in).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from .._mailbox import Call, CallExtra, Lane, first_ref
from .._ref import settled_early
from .._spec import BUILTIN_LANE

__all__ = ["BUILTIN_LANE", "caught", "count_pending", "lane_index", "last_queued", "take_calls"]


@functools.lru_cache(maxsize=256)
def lane_index(groups: tuple[str, ...]) -> dict[str | None, int]:
    """Where each lane sits in an actor's ``lanes``: default, the groups in order, builtin.
    Shared by every actor with the same groups (a dict each would be 224 B of every idle
    actor's footprint)."""
    index: dict[str | None, int] = {None: 0}
    index.update((group, i) for i, group in enumerate(groups, 1))
    index[BUILTIN_LANE] = len(groups) + 1
    return index


def count_pending(lanes: Iterable[Lane], running: Iterable[Call]) -> int:
    """Calls queued or running whose ref is not settled yet (cancelled or timed-out calls
    do not count, even before they have unwound; nor does a call whose reader already has
    its value from the worker thread)."""
    queued = [c for lane in lanes for c in list(lane.queue)]
    return sum(1 for c in queued + list(running) if not _settled(c[3]))


def _settled(ref: Any) -> bool:
    first = first_ref(ref)
    return first is not None and (first.done() or settled_early(first))


def retried(call: Call, retries: int) -> Call | None:
    """The call with one more attempt counted, or None when ``retries`` are used up."""
    method, args, kwargs, ref, extra = call
    attempts = extra.attempts if extra is not None else 0
    if retries != -1 and attempts >= retries:
        return None
    if extra is None:
        extra = CallExtra(False, (), None, attempts + 1)
    else:
        extra.attempts = attempts + 1
    return (method, args, kwargs, ref, extra)


def last_queued(queue: Any) -> Call | None:
    """The lane's last queued call, to mark where the calls a failure caught end."""
    try:
        return queue[-1]  # type: ignore[no-any-return]
    except IndexError:  # empty (the loop thread may pop meanwhile)
        return None


def caught(queued: list[Call], mark: Call | None) -> int:
    """How many of ``queued`` were queued up to ``mark``; 0 if it is gone (it started)."""
    for index, call in enumerate(queued):
        if call is mark:
            return index + 1
    return 0


def take_calls(
    lanes: tuple[Lane, ...],
    running: list[tuple[Lane, Call, Any]],
    marks: dict[Lane, Call | None] | None,
    retry: Callable[[Call], Call | None] | None,
    free: bool,
) -> tuple[dict[Lane, list[Call]], list[Call]]:
    """Take every running and queued call out (under the actor's lock); sort them into kept
    (to re-queue, in their original order: running first) and dropped. Running tasks are
    cancelled. ``retry``: counts one more attempt of a call (None when it has none left);
    None drops every call. ``free``: queued calls are kept without counting a retry, and
    so are those queued after ``marks`` (after the kill that asked for a restart)."""
    kept: dict[Lane, list[Call]] = {lane: [] for lane in lanes}
    dropped: list[Call] = []
    for lane, call, task in running:
        if task is not None:
            try:
                task.cancel()
            except RuntimeError:  # its loop is closed: it will never run again anyway
                pass
        again = retry(call) if retry is not None else None
        (kept[lane].append(again) if again is not None else dropped.append(call))
    for lane in lanes:
        lane.running = 0
        lane.paused = False
        queued = lane.take_all()
        upto = len(queued) if marks is None else caught(queued, marks.get(lane))
        for index, call in enumerate(queued):
            ref = first_ref(call[3])
            if ref is not None and ref.done():
                continue  # cancelled meanwhile
            if retry is None:
                again = None
            elif free or call[0].builtin or index >= upto:
                again = call
            else:
                again = retry(call)
            (kept[lane].append(again) if again is not None else dropped.append(call))
    return kept, dropped
