"""Between Ray and actorio: actorio refs that follow Ray refs, Ray's errors as actorio's,
and arguments made ready for Ray (actorio refs become Ray refs; handles Ray cannot carry are
refused with the reason)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import warnings
from collections.abc import Mapping
from typing import Any

from .. import _scheduling as ours
from .._dynamic import DynamicObjectRefGenerator
from .._handle import ActorHandle
from .._ref import ObjectRef, new_ref, set_exception, set_result_if_pending
from .._yield import count_error
from ..exceptions import (
    ActorDiedError,
    GetTimeoutError,
    InvalidArgumentsError,
    PendingCallsLimitExceeded,
    TaskCancelledError,
    TaskError,
    WorkerCrashedError,
)

__all__ = [
    "RaySource",
    "RayWork",
    "follow",
    "ray_arguments",
    "ray_placement",
    "translate",
    "with_options",
]


class RayWork:
    """What ``actorio.cancel`` reaches through a ref; also where its Ray ref is found when the
    ref is passed on to another Ray call."""

    __slots__ = ("ray_ref", "what")

    def __init__(self, ray_ref: Any, what: str) -> None:
        self.ray_ref = ray_ref
        self.what = what

    def cancel(self) -> bool:
        import ray

        ray.cancel(self.ray_ref)
        return True

    def describe(self) -> str:
        """The call's name, for the error of its cancel (Ray may have started it)."""
        return self.what


def follow(
    ray_ref: Any,
    ref: ObjectRef[Any],
    what: str,
    on_done: Any = None,
    *,
    generator: bool = False,
) -> None:
    """Complete ``ref`` (on its own loop) with the outcome of ``ray_ref``; then call
    ``on_done(ok, value)`` in Ray's thread, if given. ``generator``: the call runs a
    generator with its refs known up front (Ray's ``"dynamic"`` value becomes actorio's)."""
    ref._actorio_work = RayWork(ray_ref, what)
    loop = ref._loop
    # Ray keeps its future, its callbacks and its error as long as the ray ref lives, which
    # the ref's work keeps (to pass it on), in a cycle the collector cannot see through. So
    # neither the callback nor the error's traceback (this frame) may keep the ref, or it
    # (and the frames its own error's traceback pins: the reader's) is never freed.
    held = [(ref, on_done)]

    def done(future: Any) -> None:
        ref, on_done = held.pop()
        try:
            value, ok = future.result(), True
            if generator and isinstance(value, _ray_dynamic()):
                value = _dynamic(value, loop, what)
        except BaseException as exc:
            exc.__traceback__ = None  # only this frame and the future's: nothing to show
            value, ok = translate(exc, what, generator), False
        settle = set_result_if_pending if ok else set_exception
        try:
            loop.call_soon_threadsafe(settle, ref, value)
        except RuntimeError:  # the caller's loop is closed: nobody can read it
            pass
        if on_done is not None:
            on_done(ok, value)

    ray_ref.future().add_done_callback(done)


_DUALS: dict[tuple[type, type], type] = {}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RETURNS = re.compile(r"Task returned (\d+) objects, but num_returns=(\d+)")


def _dual(ours: type[BaseException], theirs: BaseException, message: str) -> BaseException:
    """An actorio error that is also an instance of Ray's error class, with Ray's fields
    (neither class's constructor runs: Ray's check their arguments)."""
    key = (ours, type(theirs))
    cls: Any = _DUALS.get(key)
    if cls is None:
        try:
            cls = type(
                ours.__name__,
                (ours, type(theirs)),
                {
                    "__str__": BaseException.__str__,
                    # Pickled as actorio's class alone: Ray's may not exist where it goes.
                    "__reduce__": lambda self: (_plain, (ours, self.args[0], self.__cause__)),
                },
            )
            cls.__module__ = ours.__module__
        except TypeError:  # incompatible layouts: actorio's class alone, Ray's as the cause
            cls = ours
        _DUALS[key] = cls
    err: BaseException = cls.__new__(cls)
    err.__dict__.update(getattr(theirs, "__dict__", {}))
    err.args = (message,)
    err.cause = theirs  # type: ignore[attr-defined]
    err.__cause__ = theirs
    return err


def _plain(ours: type[BaseException], message: str, cause: BaseException | None) -> BaseException:
    err = ours(message)
    err.__cause__ = cause
    return err


def with_options(target: Any, ray_opts: dict[str, Any]) -> Any:
    """``target.options(**ray_opts)``, without Ray's deprecation warning for
    ``num_returns="dynamic"``: it would point into actorio, once per call, and actorio
    takes that spelling as it is (docs/streaming.md)."""
    if ray_opts.get("num_returns") != "dynamic":
        return target.options(**ray_opts)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "num_returns='dynamic'", DeprecationWarning)
        return target.options(**ray_opts)


def _ray_dynamic() -> type:
    import ray

    return ray.DynamicObjectRefGenerator  # type: ignore[no-any-return]


def _dynamic(value: Any, loop: asyncio.AbstractEventLoop, what: str) -> Any:
    """Ray's ``DynamicObjectRefGenerator`` as actorio's: a ref following each of its refs."""
    refs: list[ObjectRef[Any]] = []
    for ray_ref in value:
        ref: ObjectRef[Any] = new_ref(None, loop)
        follow(ray_ref, ref, what)
        refs.append(ref)
    return DynamicObjectRefGenerator(refs)


def translate(exc: BaseException, what: str, generator: bool = False) -> BaseException:
    """Ray's exception as the actorio one a local call would raise (still an instance of
    Ray's class, and of the method's own exception class for method errors)."""
    import ray.exceptions as rex

    if isinstance(exc, rex.RayTaskError):
        cause = getattr(exc, "cause", None) or exc
        if isinstance(cause, TaskError):
            return cause
        text = _ANSI.sub("", str(exc))  # Ray colours its tracebacks for terminals
        if isinstance(cause, rex.TaskCancelledError):  # a running async call: also actorio's
            summary = f"{what} was cancelled while it was running"
            cancelled = _dual(TaskCancelledError, cause, summary)
            return TaskError(what, cancelled, text, summary).as_instanceof_cause()
        counts = _RETURNS.search(text) if isinstance(cause, ValueError) else None
        if counts is not None:  # the same error a local call gives
            got, declared = counts.groups()
            if generator:
                return count_error(what, int(declared), int(got))
            return InvalidArgumentsError(
                f"{what} declares num_returns={declared} but returned {got} values; return a "
                f"tuple of exactly {declared} values"
            )
        return TaskError(what, cause, text).as_instanceof_cause()
    if isinstance(exc, rex.TaskCancelledError):
        return _dual(TaskCancelledError, exc, f"{what} was cancelled")
    if isinstance(exc, rex.ActorUnavailableError):  # restarting: this call is lost, not it
        text = _ANSI.sub("", str(exc))
        return _dual(ActorDiedError, exc, f"{what}: the Ray actor is unavailable ({text})")
    if isinstance(exc, rex.RayActorError):
        text = _ANSI.sub("", str(exc))
        return _dual(ActorDiedError, exc, f"{what}: the Ray actor is dead ({text})")
    if isinstance(exc, rex.WorkerCrashedError):  # Ray retried the task per its max_retries
        return _dual(WorkerCrashedError, exc, f"{what}: {exc}")
    if isinstance(exc, rex.PendingCallsLimitExceeded):
        return _dual(PendingCallsLimitExceeded, exc, f"{what}: {exc}")
    if isinstance(exc, rex.GetTimeoutError):
        return _dual(GetTimeoutError, exc, f"{what}: {exc}")
    return exc


def ray_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], what: str
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Arguments for a Ray call: actorio refs of Ray calls become their Ray refs (Ray passes
    them on without a round trip through the driver); handles of actors Ray cannot reach
    are refused here, with the reason."""

    def one(value: Any) -> Any:
        if isinstance(value, ObjectRef):
            work = getattr(value, "_actorio_work", None)  # set only once work is under way
            if isinstance(work, RayWork):
                return work.ray_ref
            return value.result() if value.done() else _not_ready(value, what)
        # A handle whose backend has no way of its own to send it (Ray's) pickles by id,
        # which only this process and its workers can resolve.
        if isinstance(value, ActorHandle) and value._actorio_actor.reduce_handle() is None:
            raise InvalidArgumentsError(
                f"{what}: the handle of {value._actorio_actor.describe()} cannot be sent to "
                f"Ray: that actor lives in this process (or one of its workers), which Ray's "
                f"workers cannot reach. Create it with backend='ray' to share it with Ray tasks "
                f"and actors, or pass the values it holds instead"
            )
        return value

    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


def ray_placement(options: Mapping[str, Any]) -> dict[str, Any]:
    """Ray's cluster options of an actor or task, for Ray: actorio's scheduling strategies
    (``actorio.util.scheduling_strategies``) become Ray's own classes."""
    out = dict(options)
    strategy = out.get("scheduling_strategy")
    if strategy is not None and not isinstance(strategy, str):
        out["scheduling_strategy"] = _ray_strategy(strategy)
    return out


def _ray_strategy(strategy: Any) -> Any:
    import ray.util.scheduling_strategies as rs

    if isinstance(strategy, ours.PlacementGroupSchedulingStrategy):
        return rs.PlacementGroupSchedulingStrategy(
            strategy.placement_group,
            strategy.placement_group_bundle_index,
            strategy.placement_group_capture_child_tasks,
        )
    if isinstance(strategy, ours.NodeAffinitySchedulingStrategy):
        return rs.NodeAffinitySchedulingStrategy(
            strategy.node_id,
            strategy.soft,
            _spill_on_unavailable=strategy._spill_on_unavailable,
            _fail_on_unavailable=strategy._fail_on_unavailable,
        )
    if isinstance(strategy, ours.NodeLabelSchedulingStrategy):

        def conditions(given: dict[str, Any]) -> dict[str, Any] | None:
            return {k: getattr(rs, type(op).__name__)(*op.values) for k, op in given.items()}

        return rs.NodeLabelSchedulingStrategy(
            conditions(strategy.hard), soft=conditions(strategy.soft) or None
        )
    return strategy  # Ray's own already


def _not_ready(ref: ObjectRef[Any], what: str) -> Any:
    raise InvalidArgumentsError(
        f"{what}: a ref argument of a non-Ray call is still running; Ray can only wait for "
        f"its own refs. Await it first (await ref / actorio.get(ref)) and pass the value"
    )


class RaySource:
    """The steps of a Ray streaming call (Ray's ``ObjectRefGenerator``, whose backpressure
    is Ray's own): one step at a time, each read on this stream's own thread."""

    def __init__(self, ray_gen: Any, what: str, host: asyncio.AbstractEventLoop) -> None:
        self.ray_gen, self.what, self.host = ray_gen, what, host
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="actorio-stream")

    def opened(self) -> ObjectRef[Any] | None:
        return None  # Ray opened the stream with the call itself

    def next_ref(self) -> ObjectRef[Any]:
        ref: ObjectRef[Any] = new_ref(asyncio._get_running_loop(), self.host)
        self.pool.submit(self._step, ref)
        return ref

    def _step(self, ref: ObjectRef[Any]) -> None:
        import ray

        try:
            value: Any = (True, ray.get(next(self.ray_gen)))
            settle: Any = set_result_if_pending
        except StopIteration:
            value, settle = (False, None), set_result_if_pending
        except BaseException as exc:
            value, settle = translate(exc, self.what), set_exception
        try:
            ref._loop.call_soon_threadsafe(settle, ref, value)
        except RuntimeError:  # the consumer's loop is closed
            pass

    def close(self) -> None:
        """Cancel the call; then read and drop what it still yields: Ray cannot interrupt a
        sync method, and one paused by backpressure would otherwise hold its actor forever."""
        import ray

        try:
            ray.cancel(self.ray_gen)
        except Exception:  # finished already, or Ray is gone
            pass
        self.pool.submit(_drain, self.ray_gen)
        self.pool.shutdown(wait=False)


def _drain(ray_gen: Any) -> None:
    try:
        for _ in ray_gen:
            pass
    except Exception:  # cancelled, failed, or Ray is gone: either way it has ended
        pass
