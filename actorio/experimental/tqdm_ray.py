"""Ray's ``ray.experimental.tqdm_ray``: a progress bar that actors and tasks update from
anywhere, drawn in one place with ``tqdm`` (``pip install 'actorio[tqdm]'``):

    bar = tqdm_ray.tqdm(total=len(items), desc="work")
    ray.get([process.remote(item, bar) for item in items])  # each calls bar.update(1)
    bar.close()

In this process a bar is drawn directly, under a lock, so any thread (a threaded actor, a
``def`` task) may update it, and every copy is the same object. Once a bar is sent to a
worker process (an argument of a process actor or task), it and its copies send their
updates to a drawer actor in the driver, and a bar made inside a worker does the same: the
updates of all copies add up on one bar, in the order they were made (a copy's update
reaches the drawer before the result of the call that made it). Each is sent at once, unless
``flush_interval_s`` asks to batch them (the rest then goes with ``refresh()`` or
``close()``). Inside a Ray worker a new bar is Ray's own (Ray's driver draws it, when
``log_to_driver`` is on).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from .._api import get_actor, remote
from .._runtime import get_runtime
from ..exceptions import ActorNotFoundError, InvalidArgumentsError, MissingDependencyError

__all__ = ["tqdm"]

_PARAMETERS = ("iterable", "desc", "total", "unit", "position", "flush_interval_s")
_DRAWER_NAME = "tqdm_ray"
_NAMESPACE = "actorio-internal"


def _require_tqdm() -> Any:
    try:
        import tqdm as real
    except ImportError:
        raise MissingDependencyError(
            "actorio.experimental.tqdm_ray draws its bars with the tqdm package, which is not "
            "installed: pip install 'actorio[tqdm]' (or pip install tqdm)"
        ) from None
    return real


class _Drawer:
    """The bars this process draws: one real ``tqdm`` per bar id, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bars: dict[str, Any] = {}
        self.closed: set[str] = set()  # late updates of a closed bar's copies are dropped

    def apply(self, bar_id: str, delta: int, state: dict[str, Any]) -> None:
        real = _require_tqdm()
        with self.lock:
            if bar_id in self.closed:
                return
            bar = self.bars.get(bar_id)
            if bar is None:
                bar = self.bars[bar_id] = real.tqdm(
                    desc=state["desc"],
                    total=state["total"],
                    unit=state["unit"],
                    position=state["position"],
                    initial=state["n"] - delta,
                )
            if state["desc"] != bar.desc:
                bar.set_description(state["desc"], refresh=False)
            if state["total"] != bar.total:
                bar.total = state["total"]
            if state["absolute"]:  # the n setter: this copy's count, as it was set
                bar.n = state["n"]
                bar.refresh()
            elif delta:
                bar.update(delta)
            if state["closed"]:
                del self.bars[bar_id]
                self.closed.add(bar_id)
                bar.close()


_DRAWER = _Drawer()


class _DrawerActor:
    """The driver's drawer, for bars in worker processes (their updates arrive as calls)."""

    def apply(self, bar_id: str, delta: int, state: dict[str, Any]) -> None:
        _DRAWER.apply(bar_id, delta, state)


def _drawer_actor() -> Any:
    """The handle of this process's drawer actor (made on first use). Inline on its loop:
    drawing never blocks, and an update is drawn before the result of the call that made
    it reaches the caller (both pass through that loop, in order)."""
    options = {"name": _DRAWER_NAME, "namespace": _NAMESPACE, "get_if_exists": True}
    return remote(_DrawerActor).options(backend="local", placement="inline", **options).remote()


def _sink() -> Any:
    """Where a bar made (or unpickled) here sends its updates: in a worker process, the
    driver's drawer if it has one; otherwise this process's own drawer."""
    if get_runtime().directory is not None:
        try:
            return get_actor(_DRAWER_NAME, namespace=_NAMESPACE)
        except ActorNotFoundError:
            pass  # the driver has never drawn a bar: draw here (the worker's own stderr)
    return _DRAWER


class tqdm:  # Ray's (lower-case) name
    """A progress bar with Ray's ``tqdm_ray`` interface: ``update(n)``, ``close()``,
    ``set_description``, ``refresh``, ``n`` and ``total`` (read and set), iteration."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        options = {**dict(zip(_PARAMETERS, args, strict=False)), **kwargs}
        bar = get_runtime().progress_bar(options)  # Ray's own, inside a Ray worker
        return bar if bar is not None else super().__new__(cls)

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        desc: str | None = None,
        total: int | None = None,
        unit: str | None = None,
        position: int | None = None,
        flush_interval_s: float | None = None,
    ) -> None:
        _require_tqdm()
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                total = None
        self._iterable = iterable
        self._state: dict[str, Any] = {
            "desc": desc or "",
            "total": total,
            "unit": unit or "it",
            "position": position,
            "n": 0,
            "closed": False,
            "absolute": False,
        }
        self._id = uuid.uuid4().hex
        self._interval = flush_interval_s or 0.0
        self._setup(_sink())
        self._flush(force=True)  # drawn at once, at 0

    def _setup(self, sink: Any) -> None:
        self._sink = sink  # None: found at the first flush (a copy being unpickled)
        self._lock = threading.Lock()
        self._unsent = 0
        self._flushed_at = 0.0

    # -- Ray's interface ------------------------------------------------------------------------

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps (from any thread)."""
        with self._lock:
            self._state["n"] += n
            self._unsent += n
        self._flush()

    def set_description(self, desc: str) -> None:
        """Set the text before the bar."""
        with self._lock:
            self._state["desc"] = desc
        self._flush()

    def refresh(self) -> None:
        """Send what is not drawn yet now."""
        self._flush(force=True)

    def close(self) -> None:
        """Send the last counts and close the bar, for every copy (later updates are lost)."""
        with self._lock:
            if self._state["closed"]:
                return
            self._state["closed"] = True
        self._flush(force=True)

    @property
    def total(self) -> int | None:
        """The number of steps of a full bar (None: unknown)."""
        return self._state["total"]  # type: ignore[no-any-return]

    @total.setter
    def total(self, total: int | None) -> None:
        with self._lock:
            self._state["total"] = total
        self._flush()

    @property
    def n(self) -> int:
        """The steps counted by this copy of the bar (in this process, the bar's own)."""
        return self._state["n"]  # type: ignore[no-any-return]

    @n.setter
    def n(self, n: int) -> None:
        with self._lock:
            self._state["n"] = n
            self._state["absolute"] = True
            self._unsent = 0
        self._flush(force=True)

    def __iter__(self) -> Iterator[Any]:
        if self._iterable is None:
            raise InvalidArgumentsError(
                "this tqdm_ray bar has no iterable to go through: pass one, tqdm(range(10))"
            )
        for item in self._iterable:
            self.update(1)
            yield item
        self.close()

    # -- sending --------------------------------------------------------------------------------

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:  # sent under the lock: the drawer gets one copy's states in order
            if not force and now - self._flushed_at < self._interval:
                return
            self._flushed_at = now
            delta, self._unsent = self._unsent, 0
            state = dict(self._state)
            self._state["absolute"] = False
            sink = self._sink
            if sink is None:
                sink = self._sink = _sink()
            if sink is _DRAWER:
                _DRAWER.apply(self._id, delta, state)
            else:
                sink.apply.remote(self._id, delta, state)

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy for another process, whose updates come back here through the drawer actor:
        # so from now on this bar's go through it too, in one order with the copies'.
        with self._lock:
            if self._sink is _DRAWER and get_runtime().directory is None:
                self._sink = _drawer_actor()
            state = {**self._state, "absolute": False}
        return (_copy, (self._id, state, self._interval))

    def __repr__(self) -> str:
        state = self._state
        return f"tqdm_ray.tqdm(desc={state['desc']!r}, n={state['n']}, total={state['total']})"


def _copy(bar_id: str, state: dict[str, Any], interval: float) -> tqdm:
    bar = object.__new__(tqdm)
    bar._iterable = None
    bar._state = state
    bar._id = bar_id
    bar._interval = interval
    bar._setup(None)
    return bar
