"""What actorio learns once from a user's class or function, so no call pays for it again.

A :class:`MethodSpec` holds the plain function, whether it is a coroutine function, its
concurrency group and ``num_returns``, and a cheap argument check. A :class:`ClassSpec` holds
the methods, and :func:`actor_options` validates creation options and infers the concurrency
mode with Ray's rules (any ``async def`` method: async; ``max_concurrency > 1`` or concurrency
groups: threaded; otherwise regular).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ._stream import stream_methods
from ._watchdog import register_method
from .exceptions import InvalidArgumentsError, InvalidOptionsError

__all__ = [
    "ActorOptions",
    "ArgCheck",
    "CallOptions",
    "ClassSpec",
    "FunctionSpec",
    "MethodSpec",
    "Mode",
    "actor_options",
    "call_options",
    "extra_call_options",
    "function_options",
    "METHOD_OPTIONS_ATTR",
]

Mode = Literal["regular", "async", "threaded"]

#: Attribute that ``@actorio.method(...)`` sets on a function.
METHOD_OPTIONS_ATTR = "__actorio_method_options__"

#: Ray options that only mean something on a cluster: kept for the Ray backend (which passes
#: them to Ray), ignored by the others so that Ray scripts run unchanged.
RAY_PLACEMENT_OPTIONS = frozenset(
    {
        "num_cpus",
        "num_gpus",
        "memory",
        "resources",
        "accelerator_type",
        "scheduling_strategy",
        "runtime_env",
        "placement_group",
        "placement_group_bundle_index",
        "placement_group_capture_child_tasks",
        "_metadata",
    }
)
BACKENDS = ("local", "process", "ray")
DEFAULT_ASYNC_CONCURRENCY = 1000


class ArgCheck:
    """Checks call arguments against a signature at ``.remote()`` time, in the caller.

    The common case (positional arguments within the accepted count, no keywords) costs one
    comparison; anything else falls back to ``Signature.bind`` for an exact error message.
    """

    __slots__ = ("_hi", "_lo", "_qualname", "_sig")

    def __init__(self, fn: Callable[..., Any], qualname: str, skip_self: bool) -> None:
        self._qualname = qualname
        try:
            sig = _signature(fn)
        except (TypeError, ValueError):  # builtins without a signature: accept anything
            self._sig = None
            self._lo, self._hi = 0, 1 << 30
            return
        params = list(sig.parameters.values())
        if skip_self and params:
            params = params[1:]
        self._sig = sig.replace(parameters=params)
        lo = hi = 0
        for p in params:
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                hi += 1
                if p.default is p.empty:
                    lo = hi
            elif p.kind is p.VAR_POSITIONAL:
                hi = 1 << 30
            elif p.kind is p.KEYWORD_ONLY and p.default is p.empty:
                lo = hi = -1  # a required keyword: the fast path never applies
        self._lo, self._hi = lo, hi

    @property
    def bounds(self) -> tuple[int, int]:
        """(fewest, most) positional arguments that need no further check."""
        return self._lo, self._hi

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not kwargs and self._lo <= len(args) <= self._hi:
            return
        if self._sig is None:
            return
        try:
            self._sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidArgumentsError(
                f"{self._qualname}{self._sig} cannot take these arguments: {exc}"
            ) from None


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    """The signature with string annotations evaluated, so error messages read naturally."""
    try:
        return inspect.signature(fn, eval_str=True)
    except Exception:  # a forward reference that does not resolve: keep the strings
        return inspect.signature(fn)


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
class MethodSpec:
    name: str
    fn: Callable[..., Any]
    is_async: bool
    concurrency_group: str | None
    num_returns: int
    check: ArgCheck
    options: CallOptions | None = None
    #: a generator method: its calls stream their items (see ``_stream``)
    stream: bool = False

    @property
    def visible(self) -> bool:
        """Reachable as ``handle.<name>`` (not a hidden part of a streaming method)."""
        return "#" not in self.name

    #: actorio's own methods (``__ray_ready__``, ``__ray_terminate__``): run inline in any mode
    builtin: bool = False


@dataclass(frozen=True, slots=True)
class ClassSpec:
    cls: type
    name: str
    methods: Mapping[str, MethodSpec]
    has_async: bool
    init_check: ArgCheck

    @classmethod
    def of(cls, user_cls: type) -> ClassSpec:
        methods: dict[str, MethodSpec] = {}
        for attr in dir(user_cls):
            if attr.startswith("__") and attr.endswith("__"):
                continue
            raw = inspect.getattr_static(user_cls, attr)
            if isinstance(raw, staticmethod | classmethod):
                continue
            fn = getattr(user_cls, attr)
            if not inspect.isfunction(fn):
                continue
            opts = getattr(fn, METHOD_OPTIONS_ATTR, {})
            register_method(fn.__code__, f"{user_cls.__name__}.{attr}")
            is_agen = inspect.isasyncgenfunction(fn)
            stream = is_agen or inspect.isgeneratorfunction(fn)
            methods[attr] = MethodSpec(
                name=attr,
                fn=fn,
                is_async=inspect.iscoroutinefunction(fn) or is_agen,
                concurrency_group=opts.get("concurrency_group"),
                num_returns=1 if stream else opts.get("num_returns", 1),
                check=ArgCheck(fn, f"{user_cls.__name__}.{attr}", skip_self=True),
                options=extra_call_options(opts),
                stream=stream,
            )
            if stream:  # the hidden calls behind it, named so no attribute can reach them
                for part, hidden in stream_methods(fn, is_agen).items():
                    methods[f"{attr}#{part}"] = MethodSpec(
                        name=f"{attr}#{part}",
                        fn=hidden,
                        is_async=is_agen and part != "open",
                        concurrency_group=opts.get("concurrency_group"),
                        num_returns=1,
                        check=ArgCheck(hidden, f"{user_cls.__name__}.{attr}", skip_self=True),
                    )
        for builtin in (_ready, _terminate):
            methods[builtin.__name__] = MethodSpec(
                name=builtin.__name__,
                fn=builtin,
                is_async=False,
                concurrency_group=None,
                num_returns=1,
                check=ArgCheck(builtin, builtin.__name__, skip_self=True),
                builtin=True,
            )
        return cls(
            cls=user_cls,
            name=user_cls.__name__,
            methods=methods,
            has_async=any(m.is_async for m in methods.values()),
            init_check=ArgCheck(_init_of(user_cls), user_cls.__name__, skip_self=True),
        )


def _ready(self: Any) -> bool:
    """Ray's readiness probe: queued behind the constructor, so it answers once built."""
    return True


def _terminate(self: Any) -> None:
    """Ray's graceful stop: runs after the calls queued before it, then ends the actor."""
    from .backends import ActorExit

    raise ActorExit()


_ready.__name__ = "__ray_ready__"
_terminate.__name__ = "__ray_terminate__"


def _init_of(user_cls: type) -> Callable[..., Any]:
    init: Callable[..., Any] = user_cls.__init__  # type: ignore[misc]
    return init


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
        if key in RAY_PLACEMENT_OPTIONS:
            updates["ray_options"] = {**base.ray_options, **updates.get("ray_options", {})}
            updates["ray_options"][key] = value
            continue
        if key not in _ACTOR_KEYS or key == "ray_options":
            raise InvalidOptionsError(
                f"unknown actor option {key!r}; actorio accepts {sorted(_ACTOR_KEYS)} "
                f"(and ignores Ray's placement options {sorted(RAY_PLACEMENT_OPTIONS)})"
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
        if key in RAY_PLACEMENT_OPTIONS:
            continue
        if key not in _CALL_KEYS:
            raise InvalidOptionsError(
                f"unknown method option {key!r}; actorio accepts {sorted(_CALL_KEYS)}"
            )
        if (
            key == "num_returns"
            and value != "streaming"
            and (not isinstance(value, int) or isinstance(value, bool) or value < 0)
        ):
            raise InvalidOptionsError(
                f"num_returns must be an int >= 0 or 'streaming', got {value!r}"
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


_FUNCTION_KEYS = frozenset({"num_returns", "name", "backend", "max_retries", "retry_exceptions"})


def function_options(given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate options of a remote function."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key in RAY_PLACEMENT_OPTIONS:
            out.setdefault("ray_options", {})[key] = value  # for the Ray backend only
            continue
        if key not in _FUNCTION_KEYS:
            raise InvalidOptionsError(
                f"unknown task option {key!r}; actorio accepts {sorted(_FUNCTION_KEYS)}"
            )
        if key == "max_retries":
            value = _count(key, value)
        elif key == "retry_exceptions":
            value = _retry_on(value)
        elif key == "backend":
            value = check_backend(value)
        out[key] = (
            call_options({"num_returns": value})["num_returns"] if key == "num_returns" else value
        )
    return out


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    fn: Callable[..., Any]
    name: str
    is_async: bool
    check: ArgCheck

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> FunctionSpec:
        name = getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
        return cls(fn, name, inspect.iscoroutinefunction(fn), ArgCheck(fn, name, skip_self=False))


class _ByName:
    """Stands for an importable class or function in a pickle: unpickling imports it."""

    __slots__ = ("module", "qualname")

    def __init__(self, module: str, qualname: str) -> None:
        self.module = module
        self.qualname = qualname

    def __reduce__(self) -> tuple[Any, ...]:
        return (import_by_name, (self.module, self.qualname))


def import_by_name(module: str, qualname: str) -> Any:
    import importlib

    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return getattr(found, "__wrapped__", found)  # an actorio wrapper stands for what it wraps


def portable(obj: Any) -> Any:
    """What to pickle for a user's class or function: a by-name stand-in when another process
    can import it (so tracebacks there show its source), else the object itself (cloudpickle
    then sends it by value: ``__main__``, notebooks, local definitions)."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    qualname = getattr(obj, "__qualname__", "")
    if module is None or module.__name__ == "__main__" or "<locals>" in qualname:
        return obj
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is obj or getattr(found, "__wrapped__", None) is obj:
        return _ByName(module.__name__, qualname)
    return obj
