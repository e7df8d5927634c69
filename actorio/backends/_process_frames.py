"""Pickling what a process actor sends its worker: the ``Create`` and ``Call`` frames, with
an error that names the value that cannot be pickled when one cannot."""

from __future__ import annotations

from typing import Any

from .._options import ActorOptions, Mode
from .._portable import portable
from .._spec import ClassSpec
from ..exceptions import InvalidOptionsError
from . import _wire
from ._messages import Call, Create

__all__ = ["call_frame", "create_frame"]


def create_frame(
    spec: ClassSpec,
    options: ActorOptions,
    mode: Mode,
    actor_id: str,
    namespace: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    restarts: int,
) -> bytes:
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
    )
    try:
        return _wire.dumps(message)
    except Exception:
        err = _wire.unpicklable(
            f"{spec.name}.__init__", {"the class": spec.cls, **_labelled(args, kwargs)}
        )
        raise err or InvalidOptionsError(f"{spec.name} cannot be sent to a worker")


def call_frame(call: Call, actor_name: str) -> bytes:
    """The frame of one call, its ref arguments already replaced."""
    try:
        return _wire.dumps(call)
    except Exception:
        what = f"{actor_name}.{call.method}"
        raise _wire.unpicklable(what, _labelled(call.args, call.kwargs)) or InvalidOptionsError(
            f"{what}: cannot pickle the call"
        )


def _labelled(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    values = {f"argument {i}": a for i, a in enumerate(args)}
    values.update({f"argument {k!r}": v for k, v in kwargs.items()})
    return values
