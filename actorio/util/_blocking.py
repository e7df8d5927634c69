"""The one check the blocking helpers of ``actorio.util`` share: never block a loop's thread."""

from __future__ import annotations

from actorio._get import check_may_block
from actorio.exceptions import BlockingCallOnLoopError

__all__ = ["refuse_on_loop"]


def refuse_on_loop(what: str, instead: str, timeout: float | None = None) -> None:
    """Raise ``BlockingCallOnLoopError`` naming ``what`` and its async form ``instead`` when
    called on a thread that runs an event loop (a ``timeout=0`` poll is allowed, as for
    ``actorio.get``).

    The test itself is ``actorio.get``'s (for a result not there yet), so the two can never
    disagree; only the message changes, to point at the pool's or queue's own async method
    rather than at ``await ref``.
    """
    try:
        check_may_block(what, timeout, [], 1)
    except BlockingCallOnLoopError as exc:
        raise BlockingCallOnLoopError(
            f"{what} would block the event loop running in this thread, and that loop may be "
            f"the one that has to produce the result (a deadlock). In async code use "
            f"{instead}; for an actor whose methods must block, create it from plain sync "
            f"code or with placement='thread'."
        ) from exc
