"""A generator call whose refs are known up front: a static ``num_returns=n``, or Ray's older
``num_returns="dynamic"``. (A generator with neither streams: :mod:`actorio._stream`.)

The generator runs to its end where the call runs (in the actor, the task's thread or loop),
and its items travel back as one :class:`Yielded`, which the caller's refs split: the i-th
ref gets the i-th item. As in Ray, a generator that raises after ``k`` items leaves those
``k`` items in the first refs and its error in the rest; one that yields fewer items than
declared gets an error saying so in the missing refs; one that yields more has the extra
items dropped (Ray does the same; actorio also logs a warning). A generator that raises
before its first item fails like any call (so it is retried and counted as one).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .exceptions import InvalidArgumentsError, TaskError

__all__ = ["Yielded", "acollect", "collect", "count_error"]

log = logging.getLogger("actorio")


class Yielded:
    """A generator call's items and the error that ended it early (None: it ran to its
    end). ``num_returns`` is what the call declared; None for ``"dynamic"``."""

    __slots__ = ("error", "items", "num_returns")

    def __init__(
        self, items: list[Any], error: BaseException | None, num_returns: int | None
    ) -> None:
        self.items = items
        self.error = error
        self.num_returns = num_returns

    def outcome(self, i: int) -> tuple[bool, Any]:
        """``(True, item)`` for the i-th ref, or ``(False, error)`` past the last item."""
        if i < len(self.items):
            return True, self.items[i]
        return False, self.error

    def __reduce__(self) -> tuple[Any, ...]:  # slots: pickled by its fields (process backend)
        return (Yielded, (self.items, self.error, self.num_returns))

    def __repr__(self) -> str:
        return f"Yielded({len(self.items)} items, error={self.error!r})"


def count_error(what: str, declared: int, got: int) -> InvalidArgumentsError:
    """The error of the refs a static-``num_returns`` generator left without an item."""
    return InvalidArgumentsError(
        f"{what} declares num_returns={declared} but its generator yielded {got} item(s); "
        f"yield exactly {declared}, or drop num_returns to stream the items"
    )


def collect(gen: Iterator[Any], num_returns: int | None, what: str) -> Any:
    """Run a sync generator for a call that declared ``num_returns`` (None: dynamic)."""
    items: list[Any] = []
    try:
        if num_returns != 0:  # Ray does not run a generator whose items nobody can read
            for item in gen:
                items.append(item)
                if num_returns is not None and len(items) > num_returns:
                    break
    except Exception as exc:
        if not items and num_returns is not None:
            raise  # a plain failure: every ref gets it, retries apply
        return _ended(Yielded(items, TaskError.from_exception(what, exc), num_returns))
    finally:
        close = getattr(gen, "close", None)
        if close is not None:
            close()
    return _counted(items, num_returns, what)


async def acollect(gen: AsyncIterator[Any], num_returns: int | None, what: str) -> Any:
    """:func:`collect` for an async generator."""
    items: list[Any] = []
    try:
        if num_returns != 0:
            async for item in gen:
                items.append(item)
                if num_returns is not None and len(items) > num_returns:
                    break
    except Exception as exc:
        if not items and num_returns is not None:
            raise
        return _ended(Yielded(items, TaskError.from_exception(what, exc), num_returns))
    finally:
        aclose = getattr(gen, "aclose", None)
        if aclose is not None:
            await aclose()
    return _counted(items, num_returns, what)


def _counted(items: list[Any], num_returns: int | None, what: str) -> Any:
    if num_returns is None:
        return Yielded(items, None, None)
    if len(items) > num_returns:
        log.warning(
            "%s declares num_returns=%d but its generator yielded more items; the extra "
            "ones are dropped (as Ray does)",
            what,
            num_returns,
        )
        del items[num_returns:]
    error = count_error(what, num_returns, len(items)) if len(items) < num_returns else None
    return _ended(Yielded(items, error, num_returns))


def _ended(done: Yielded) -> Any:
    """A single ref (``num_returns=1``) takes the item itself, or the error, at once."""
    if done.num_returns != 1:
        return done
    ok, value = done.outcome(0)
    if not ok:
        raise value
    return value
