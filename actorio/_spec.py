"""What actorio learns once from a user's class or function, so no call pays for it again.

A :class:`MethodSpec` holds the plain function, whether it is a coroutine function, its
concurrency group and ``num_returns``, and a cheap argument check (:class:`ArgCheck`). A
:class:`ClassSpec` holds the methods, with the hidden ones behind generator methods and Ray's
two builtins; a :class:`FunctionSpec` is the same for a remote function.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._options import METHOD_OPTIONS_ATTR, CallOptions, extra_call_options
from ._seam import ActorExit
from ._stream_actor import stream_methods
from ._watchdog import register_method
from .exceptions import InvalidArgumentsError, InvalidOptionsError

__all__ = [
    "BUILTIN_LANE",
    "ArgCheck",
    "ClassSpec",
    "FunctionSpec",
    "MethodSpec",
    "check_generator_returns",
]


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


class Shared(dict[str, Any]):
    """A method's cache of what backends make once for it. It never travels: a spec pickled
    (a class sent to Ray or a worker process) arrives with an empty one, since what is cached
    holds this process's objects (a closure over a context variable, say)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (Shared, ())


@dataclass(frozen=True, slots=True)
class MethodSpec:
    name: str
    fn: Callable[..., Any]
    is_async: bool
    concurrency_group: str | None
    #: an int, or for a generator method "streaming" (its default) or "dynamic"
    num_returns: int | str
    check: ArgCheck
    options: CallOptions | None = None
    #: a generator method: its calls stream their items (see ``_stream``)
    stream: bool = False

    @property
    def visible(self) -> bool:
        """Reachable as ``handle.<name>`` (not a hidden part of a streaming method)."""
        return "#" not in self.name

    #: actorio's own methods (``__ray_ready__``, ``__ray_terminate__``): run inline in any
    #: mode, and never refused for a full mailbox
    builtin: bool = False
    #: the lane it always takes, whatever the call's group: ``__ray_ready__`` has one of its
    #: own (it never waits behind user calls); ``__ray_terminate__`` queues behind them
    lane: str | None = None
    #: what a backend makes once per method and shares between actors (its plain ``remote``)
    shared: Shared = field(default_factory=lambda: Shared(), init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ClassSpec:
    cls: type
    name: str
    methods: Mapping[str, MethodSpec]
    has_async: bool
    init_check: ArgCheck
    #: ``async def __init__``: awaited on the actor's loop (which makes it an async actor)
    async_init: bool = False

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
                num_returns=_declared_returns(fn, opts, stream, f"{user_cls.__name__}.{attr}"),
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
                lane=BUILTIN_LANE if builtin is _ready else None,
            )
        async_init = inspect.iscoroutinefunction(_init_of(user_cls))
        return cls(
            cls=user_cls,
            name=user_cls.__name__,
            methods=methods,
            has_async=async_init or any(m.is_async for m in methods.values()),
            init_check=ArgCheck(_init_of(user_cls), user_cls.__name__, skip_self=True),
            async_init=async_init,
        )


#: The lane of the builtins that never wait behind user calls.
BUILTIN_LANE = "__actorio_builtin__"


def _ready(self: Any) -> bool:
    """Ray's readiness probe: queued behind the constructor, so it answers once built."""
    return True


def _terminate(self: Any) -> None:
    """Ray's graceful stop: runs after the calls queued before it, then ends the actor."""
    raise ActorExit()


_ready.__name__ = "__ray_ready__"
_terminate.__name__ = "__ray_terminate__"


def _declared_returns(
    fn: Callable[..., Any], opts: Mapping[str, Any], stream: bool, what: str
) -> int | str:
    """A method's ``num_returns``: a generator streams unless it declares otherwise (Ray's
    rule); "streaming" and "dynamic" need a generator."""
    declared: int | str = opts.get("num_returns", "streaming" if stream else 1)
    check_generator_returns(declared, stream, what)
    return declared


def check_generator_returns(num_returns: Any, generator: bool, what: str) -> None:
    """Ray refuses "streaming" and "dynamic" for functions and methods that do not yield."""
    if num_returns in ("streaming", "dynamic") and not generator:
        raise InvalidOptionsError(
            f"num_returns={num_returns!r} needs a generator (a function or method that "
            f"yields), and {what} is not one"
        )


def _init_of(user_cls: type) -> Callable[..., Any]:
    init: Callable[..., Any] = user_cls.__init__  # type: ignore[misc]
    return init


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    fn: Callable[..., Any]
    name: str
    #: ``async def`` (a coroutine or an async generator function): runs on a loop
    is_async: bool
    check: ArgCheck
    #: a generator function (sync or async): its calls stream unless num_returns says otherwise
    stream: bool = False

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> FunctionSpec:
        name = getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
        agen = inspect.isasyncgenfunction(fn)
        return cls(
            fn,
            name,
            inspect.iscoroutinefunction(fn) or agen,
            ArgCheck(fn, name, skip_self=False),
            agen or inspect.isgeneratorfunction(fn),
        )
