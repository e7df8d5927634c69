"""Pickling what a process actor sends its worker: the ``Create`` and ``Call`` frames, with
an error that names the value that cannot be pickled when one cannot."""

from __future__ import annotations

from typing import Any

from .._options import ActorOptions, Mode
from .._portable import portable
from .._ref import ObjectRef
from .._ref_args import resolve_refs
from .._spec import ClassSpec
from ..exceptions import InvalidOptionsError, SerializationError
from . import _shm, _wire
from ._messages import Call, Create
from ._objects import shareable

__all__ = ["call_frame", "create_frame", "shared_args"]


def shared_args(
    args: tuple[Any, ...], kwargs: dict[str, Any], what: str | None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments with their done top-level refs replaced by their values, as the worker
    gets them: a value with large buffers as its stored copy (pickled once per ref)."""
    values, named = resolve_refs(args, kwargs, what)
    pairs = zip(args, values, strict=True)
    args = tuple(shareable(a, v) if isinstance(a, ObjectRef) else v for a, v in pairs)
    kwargs = {
        k: shareable(kwargs[k], v) if isinstance(kwargs[k], ObjectRef) else v
        for k, v in named.items()
    }
    return args, kwargs


def create_frame(
    spec: ClassSpec,
    options: ActorOptions,
    mode: Mode,
    actor_id: str,
    namespace: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    restarts: int,
) -> bytes | _wire.Frame:
    """The first frame of a worker of the actor (made anew for each one)."""
    worker_options: dict[str, Any] = {
        "mode": mode,
        "concurrency_groups": dict(options.concurrency_groups),
        "max_task_retries": options.max_task_retries,
        "retry_exceptions": options.retry_exceptions,
    }
    if options.max_concurrency is not None:
        worker_options["max_concurrency"] = options.max_concurrency
    if options.placement is not None:  # decided by the creator, here in the driver
        worker_options["placement"] = options.placement
    from .._runtime import get_runtime

    cls = portable(spec.cls)
    message = Create(
        cls,
        worker_options,
        args,
        kwargs,
        actor_id,
        options.name,
        namespace,
        get_runtime().namespace,
        restarts,
        (_shm.MIN_BYTES, _shm.RETAIN_S),
    )
    try:
        return _wire.dumps(message)
    except SerializationError:
        raise
    except Exception:
        err = _wire.unpicklable(
            f"{spec.name}.__init__", {"the class": spec.cls, **_labelled(args, kwargs)}
        )
        raise err or InvalidOptionsError(f"{spec.name} cannot be sent to a worker")


def call_frame(call: Call, actor_name: str) -> bytes | _wire.Frame:
    """The frame of one call, its ref arguments already replaced."""
    try:
        return _wire.dumps(call)
    except SerializationError:
        raise
    except Exception:
        what = f"{actor_name}.{call.method}"
        raise _wire.unpicklable(what, _labelled(call.args, call.kwargs)) or InvalidOptionsError(
            f"{what}: cannot pickle the call"
        )


def _labelled(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    values = {f"argument {i}": a for i, a in enumerate(args)}
    values.update({f"argument {k!r}": v for k, v in kwargs.items()})
    return values
