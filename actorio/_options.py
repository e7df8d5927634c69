"""Validated options: of an actor class (``ActorOptions``), of a call (``CallOptions``), of a task.

Each option is checked once, where it is given (``@actorio.remote(...)``, ``.options(...)``,
``@actorio.method(...)``), so no call pays for it again and a bad value fails with a message
that names it. ``ActorOptions.resolve_mode`` infers the concurrency mode with Ray's rules
(any ``async def`` method: async; ``max_concurrency > 1`` or concurrency groups: threaded;
otherwise regular).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from ._scheduling import check_strategy
from .exceptions import InvalidOptionsError

if TYPE_CHECKING:
    from ._spec import ClassSpec

__all__ = [
    "BACKENDS",
    "BACKPRESSURE",
    "IGNORED_CALL_OPTIONS",
    "METHOD_OPTIONS_ATTR",
    "RAY_ACTOR_OPTIONS",
    "RAY_TASK_OPTIONS",
    "ActorOptions",
    "CallOptions",
    "Mode",
    "Placement",
    "RetryOn",
    "actor_options",
    "check_eager",
    "call_options",
    "check_backend",
    "check_placement",
    "extra_call_options",
    "function_options",
    "task_crash_retries",
    "task_retry_policy",
]

Mode = Literal["regular", "async", "threaded"]
Placement = Literal["inline", "thread"]

#: Attribute that ``@actorio.method(...)`` sets on a function.
METHOD_OPTIONS_ATTR = "__actorio_method_options__"

#: Ray's options of actors and tasks that only mean something on a Ray cluster (placement,
#: resources, runtime environments, Ray's own task events and labels): kept for the Ray
#: backend, which passes them to Ray, and ignored by the others so Ray scripts run unchanged.
_RAY_COMMON_OPTIONS = frozenset(
    {
        "num_cpus",
        "num_gpus",
        "memory",
        "object_store_memory",
        "resources",
        "accelerator_type",
        "label_selector",
        "fallback_strategy",
        "scheduling_strategy",
        "runtime_env",
        "placement_group",
        "placement_group_bundle_index",
        "placement_group_capture_child_tasks",
        "enable_task_events",
        "_labels",
        "_metadata",
    }
)
#: for actors, also: Ray's out-of-order execution, tensor transport, and its actor-wide cap on
#: unread streamed items (each call's own backpressure applies everywhere)
RAY_ACTOR_OPTIONS = _RAY_COMMON_OPTIONS | {
    "allow_out_of_order_execution",
    "enable_tensor_transport",
    "_actor_generator_backpressure_num_objects",
}
#: for tasks, also: how many tasks a Ray worker process runs before it is replaced, and how
#: Ray batches a generator task's items (a generator task's backpressure is actorio's too)
RAY_TASK_OPTIONS = _RAY_COMMON_OPTIONS | {
    "max_calls",
    "_num_objects_per_yield",
}
#: Ray's options of a method or call that change nothing outside Ray: accepted, ignored
#: (``handle.m.options(...)``, ``@actorio.method(...)``), on Ray too
IGNORED_CALL_OPTIONS = frozenset(
    {"enable_task_events", "tensor_transport", "_labels", "_num_objects_per_yield", "_metadata"}
)


def _unknown(kind: str, key: str, accepted: Iterable[str], ignored: Iterable[str]) -> str:
    """The message for an option nobody knows, naming the closest known one."""
    known = sorted(set(accepted) | set(ignored))
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"unknown {kind} option {key!r}; {hint}actorio accepts {sorted(accepted)}, and "
        f"ignores Ray's cluster options {sorted(ignored)}"
    )


BACKENDS = ("local", "process", "ray")
DEFAULT_ASYNC_CONCURRENCY = 1000

RetryOn = bool | tuple[type[BaseException], ...]


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Per-call options beyond the fast path's: set per method or with ``.options()``."""

    timeout: float | None = None
    max_task_retries: int | None = None  # None: the actor's
    retry_exceptions: RetryOn | None = None  # None: the actor's
    #: streaming calls: items a generator may produce ahead of its consumer (None: default)
    _generator_backpressure_num_objects: int | None = None


@dataclass(frozen=True, slots=True)
class ActorOptions:
    """Validated creation options of one actor class (or one ``.options()`` copy of it)."""

    name: str | None = None
    namespace: str | None = None
    get_if_exists: bool = False
    lifetime: Literal["detached"] | None = None
    max_concurrency: int | None = None
    concurrency_groups: Mapping[str, int] = field(default_factory=dict)
    mode: Mode | None = None
    #: where a regular actor's sync methods run: "inline" on its host loop or on a "thread"
    #: of its own (None: a thread when made from plain sync code, else inline)
    placement: Placement | None = None
    #: whether plain calls to this regular actor, made on its loop while it is idle, run at
    #: once (see actorio.backends._local_calls); None: as the runtime says (on by default)
    eager: bool | None = None
    backend: str | None = None
    max_restarts: int = 0
    max_task_retries: int = 0
    retry_exceptions: RetryOn = False
    max_pending_calls: int = -1
    #: Ray's placement options (num_cpus, resources, scheduling_strategy, ...), for Ray only
    ray_options: Mapping[str, Any] = field(default_factory=dict)

    def resolve_mode(self, spec: ClassSpec) -> tuple[Mode, int]:
        """The concurrency mode and default-group limit, with Ray's inference rules."""
        mode = self.mode
        limit = self.max_concurrency
        if mode is None:
            if spec.has_async:
                mode = "async"
            elif (limit or 1) > 1 or self.concurrency_groups:
                mode = "threaded"
            else:
                mode = "regular"
        where = f"actor class {spec.name}"
        if spec.has_async and mode != "async":
            asyncs = sorted(m.name for m in spec.methods.values() if m.is_async and m.visible)
            asyncs += ["__init__"] if spec.async_init else []
            raise InvalidOptionsError(
                f"{where} has async def methods {asyncs}, so it cannot be a {mode} actor; "
                f"drop mode={mode!r} (it will be an async actor; use max_concurrency=1 to run "
                f"one call at a time) or make those methods plain def"
            )
        if mode == "async" and not spec.has_async:
            raise InvalidOptionsError(
                f"mode='async' needs at least one async def method, and {where} has none; "
                f"use mode='threaded' to run sync methods concurrently"
            )
        if self.placement is not None and mode != "regular":
            where_run = "on its event loop" if mode == "async" else "on threads"
            raise InvalidOptionsError(
                f"placement={self.placement!r} applies to regular actors, and {where} is a "
                f"{mode} actor (its sync methods always run {where_run}); drop placement"
            )
        if mode == "regular":
            if limit not in (None, 1) or self.concurrency_groups:
                raise InvalidOptionsError(
                    f"a regular actor runs one call at a time; {where} asks for "
                    f"max_concurrency={limit} / concurrency_groups={dict(self.concurrency_groups)}"
                    f"; use mode='threaded' (sync methods on threads) instead"
                )
            return mode, 1
        if limit is None:
            limit = DEFAULT_ASYNC_CONCURRENCY if mode == "async" else 1
        for m in spec.methods.values():
            group = m.concurrency_group
            if group is not None and group not in self.concurrency_groups:
                raise InvalidOptionsError(
                    f"{spec.name}.{m.name} is declared in concurrency group {group!r}, but "
                    f"the actor defines only {sorted(self.concurrency_groups)}; pass "
                    f"concurrency_groups={{{group!r}: N}} to @actorio.remote or .options()"
                )
        return mode, limit


_ACTOR_KEYS = frozenset(ActorOptions.__dataclass_fields__)


def _count(key: str, value: Any) -> int:
    """A count where -1 means unlimited (Ray's convention)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < -1:
        raise InvalidOptionsError(f"{key} must be an int >= -1 (-1: unlimited), got {value!r}")
    return value


def _retry_on(value: Any) -> RetryOn:
    if isinstance(value, bool):
        return value
    if isinstance(value, list | tuple) and all(
        isinstance(t, type) and issubclass(t, BaseException) for t in value
    ):
        return tuple(value)
    raise InvalidOptionsError(
        f"retry_exceptions must be True, False or a list of exception classes, got {value!r}"
    )


def _positive_int(key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidOptionsError(f"{key} must be a positive int, got {value!r}")
    return value


def actor_options(base: ActorOptions, given: Mapping[str, Any]) -> ActorOptions:
    """``base`` updated with ``given``, each key validated."""
    updates: dict[str, Any] = {}
    for key, value in given.items():
        if key in RAY_ACTOR_OPTIONS:
            if key == "scheduling_strategy":
                value = check_strategy(value)
            updates["ray_options"] = {**base.ray_options, **updates.get("ray_options", {})}
            updates["ray_options"][key] = value
            continue
        if key not in _ACTOR_KEYS or key == "ray_options":
            raise InvalidOptionsError(
                _unknown("actor", key, _ACTOR_KEYS - {"ray_options"}, RAY_ACTOR_OPTIONS)
            )
        if key == "max_concurrency":
            value = _positive_int(key, value)
        elif key in ("max_restarts", "max_task_retries", "max_pending_calls"):
            value = _count(key, value)
        elif key == "retry_exceptions":
            value = _retry_on(value)
        elif key == "concurrency_groups":
            if not isinstance(value, Mapping):
                raise InvalidOptionsError(f"concurrency_groups must be a dict, got {value!r}")
            value = {
                str(k): _positive_int(f"concurrency_groups[{k!r}]", v) for k, v in value.items()
            }
        elif key == "mode" and value not in (None, "regular", "async", "threaded"):
            raise InvalidOptionsError(
                f"mode must be 'regular', 'async' or 'threaded', got {value!r}"
            )
        elif key == "placement":
            value = check_placement(value)
        elif key == "eager":
            value = check_eager(value)
        elif key == "lifetime" and value not in (None, "detached", "non_detached"):
            raise InvalidOptionsError(f"lifetime must be None or 'detached', got {value!r}")
        elif key == "backend":
            value = check_backend(value)
        elif key in ("name", "namespace") and value is not None and not isinstance(value, str):
            raise InvalidOptionsError(f"{key} must be a str, got {value!r}")
        if key == "lifetime" and value == "non_detached":
            value = None
        updates[key] = value
    return replace(base, **updates) if updates else base


def check_eager(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidOptionsError(
        f"eager must be True (plain calls to an idle regular actor on its own loop run at "
        f"once, the default) or False (every call waits for its turn in the mailbox), got "
        f"{value!r}"
    )


def check_placement(value: Any) -> Placement | None:
    if value is None or value in ("inline", "thread"):
        return value  # type: ignore[no-any-return]
    raise InvalidOptionsError(
        f"placement must be 'inline' (sync methods on the actor's event loop), 'thread' (on a "
        f"thread of its own) or None (a thread when created from plain sync code), got {value!r}"
    )


def check_backend(value: Any) -> str | None:
    if value is None or value in BACKENDS:
        return value  # type: ignore[no-any-return]
    raise InvalidOptionsError(
        f"backend {value!r} is not available; this version of actorio has {list(BACKENDS)} "
        f"(in-process, one worker process per actor, a Ray cluster)"
    )


#: Ray's option for how many items a streaming call may produce ahead of its consumer
BACKPRESSURE = "_generator_backpressure_num_objects"
UNBOUNDED_WINDOW = 4096

_CALL_KEYS = frozenset(
    {
        "num_returns",
        "concurrency_group",
        "name",
        "timeout",
        "max_task_retries",
        "retry_exceptions",
        BACKPRESSURE,
    }
)


def call_options(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate per-call options: ``handle.method.options(...)`` and ``@actorio.method(...)``."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key in IGNORED_CALL_OPTIONS:
            continue
        if key not in _CALL_KEYS:
            raise InvalidOptionsError(_unknown("method", key, _CALL_KEYS, IGNORED_CALL_OPTIONS))
        if (
            key == "num_returns"
            and value not in ("streaming", "dynamic")
            and (not isinstance(value, int) or isinstance(value, bool) or value < 0)
        ):
            raise InvalidOptionsError(
                f"num_returns must be an int >= 0, 'streaming' or 'dynamic', got {value!r}"
            )
        if key == BACKPRESSURE:
            # How far a generator may run ahead of its consumer; -1 (Ray: no limit) is capped.
            if value == -1:
                value = UNBOUNDED_WINDOW
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidOptionsError(f"{key} must be an int >= 1 or -1, got {value!r}")
        if key == "timeout" and value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InvalidOptionsError(f"timeout must be a number of seconds > 0, got {value!r}")
            value = float(value)
        elif key == "max_task_retries" and value is not None:
            value = _count(key, value)
        elif key == "retry_exceptions" and value is not None:
            value = _retry_on(value)
        out[key] = value
    return out


def extra_call_options(
    opts: Mapping[str, Any], base: CallOptions | None = None
) -> CallOptions | None:
    """The ``CallOptions`` part of validated call options (None when all are defaults)."""
    base = base or CallOptions()
    merged = replace(
        base,
        **{
            k: opts[k]
            for k in ("timeout", "max_task_retries", "retry_exceptions", BACKPRESSURE)
            if k in opts
        },
    )
    return None if merged == CallOptions() else merged


#: Ray's default ``max_retries`` of a task: after its worker crashed, and after it raised
#: when ``retry_exceptions`` asks for it
DEFAULT_TASK_RETRIES = 3


def task_crash_retries(options: Mapping[str, Any]) -> int:
    """How many times a task runs again after its worker process died while running it (-1:
    always), as Ray retries system failures: ``max_retries``, whatever ``retry_exceptions``."""
    retries: int = options.get("max_retries", DEFAULT_TASK_RETRIES)
    return retries


def task_retry_policy(options: Mapping[str, Any]) -> tuple[int, RetryOn]:
    """``(max_retries, retry_exceptions)`` of a task: it runs again after raising only when
    ``retry_exceptions`` asks for it, up to ``max_retries`` times (Ray's default: 3)."""
    retry_on: RetryOn = options.get("retry_exceptions", False)
    return (options.get("max_retries", DEFAULT_TASK_RETRIES) if retry_on else 0), retry_on


_FUNCTION_KEYS = frozenset(
    {"num_returns", "name", "backend", "max_retries", "retry_exceptions", BACKPRESSURE}
)


_SHARED_KEYS = ("num_returns", BACKPRESSURE)  # validated as for methods


def function_options(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate options of a remote function."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key in RAY_TASK_OPTIONS:
            if key == "scheduling_strategy":
                value = check_strategy(value)
            out.setdefault("ray_options", {})[key] = value  # for the Ray backend only
            continue
        if key not in _FUNCTION_KEYS:
            raise InvalidOptionsError(_unknown("task", key, _FUNCTION_KEYS, RAY_TASK_OPTIONS))
        if key == "max_retries":
            value = _count(key, value)
        elif key == "retry_exceptions":
            value = _retry_on(value)
        elif key == "backend":
            value = check_backend(value)
        out[key] = call_options({key: value})[key] if key in _SHARED_KEYS else value
    return out
