"""A mypy plugin that types actor handles: ``plugins = ["actorio.mypy_plugin"]``.

Two things plain typing cannot say, so this plugin says them to mypy:

* ``handle.method`` on an ``ActorHandle[C]`` is ``ActorMethod[P, R]``, where ``P`` and ``R``
  are the parameters and result of ``C.method`` (awaited, for ``async def``). Mapping every
  method of ``C`` like that needs higher-kinded types (python/typing#802), so at run time and
  for other checkers ``ActorHandle.__getattr__`` returns ``Any``.
* ``@actorio.remote class C`` is an ``ActorClass[C]``, but mypy ignores what class
  decorators return (python/mypy#3135) and keeps ``C`` a plain class. The plugin adds typed
  ``C.remote(...)`` (checked like ``C(...)``, giving ``ActorHandle[C]``) and
  ``C.options(...)`` to it, so decorated classes still work as types in annotations.

Methods marked ``@actorio.method(num_returns=n)`` with ``n != 1`` (or ``"dynamic"``) give a
list of refs (or ``None``, or a ref to a ``DynamicObjectRefGenerator``), not one ref: the
plugin leaves them ``Any``. A generator method marked ``num_returns=1`` gives one ref to its
first item; other generator methods stream (``StreamingMethod``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from mypy.errorcodes import ATTR_DEFINED
from mypy.nodes import (
    ARG_STAR,
    ARG_STAR2,
    Argument,
    CallExpr,
    Decorator,
    FuncDef,
    IntExpr,
    OverloadedFuncDef,
    RefExpr,
    TypeInfo,
    Var,
)
from mypy.plugin import (
    AttributeContext,
    CheckerPluginInterface,
    ClassDefContext,
    FunctionContext,
    MethodContext,
    MethodSigContext,
    Plugin,
)
from mypy.plugins.common import add_method_to_class
from mypy.subtypes import find_member
from mypy.typeops import type_object_type
from mypy.types import (
    AnyType,
    CallableType,
    FunctionLike,
    Instance,
    NoneType,
    Overloaded,
    Parameters,
    ProperType,
    Type,
    TypeOfAny,
    TypeType,
    UnionType,
    get_proper_type,
)

__all__ = ["ActorioPlugin", "plugin"]

_HANDLE = "actorio._handle.ActorHandle"
_ACTOR_CLASS = "actorio._actor.ActorClass"
_REMOTE = {"actorio._api.remote", "actorio.remote"}
_METHOD_DECORATORS = {"actorio._api.method", "actorio.method"}
_DECORATOR_CALL = "actorio._api._RemoteDecorator.__call__"
_SUPERVISOR_START = "actorio._supervisor.Supervisor.start"
# The checker looks names up through the package, which re-exports these classes.
_PUBLIC_HANDLE = "actorio.ActorHandle"
_PUBLIC_METHOD = "actorio.ActorMethod"
_STREAMING_METHOD = "actorio.StreamingMethod"
_META = "actorio"  # TypeInfo.metadata key: survives mypy's cache, unlike decorator ASTs
#: Methods every actor answers, whatever its class (see ``_spec.py``).
_BUILTIN_RESULTS = {"__ray_ready__": "builtins.bool", "__ray_terminate__": None}


class ActorioPlugin(Plugin):
    """Hooks for ``ActorHandle`` attributes and ``@actorio.remote`` classes."""

    def get_attribute_hook(self, fullname: str) -> Callable[[AttributeContext], Type] | None:
        prefix, _, name = fullname.rpartition(".")
        if prefix == _HANDLE:
            return partial(_handle_attribute, name)
        return None

    def get_class_decorator_hook_2(self, fullname: str) -> Callable[[ClassDefContext], bool] | None:
        return _add_actor_members if fullname in _REMOTE else None

    def get_method_signature_hook(
        self, fullname: str
    ) -> Callable[[MethodSigContext], FunctionLike] | None:
        if fullname == _SUPERVISOR_START:
            return _supervisor_start
        cls_name, _, name = fullname.rpartition(".")
        if name == "remote" and self._is_actor_class(cls_name):
            return _class_remote_signature
        return None

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        return _remote_call if fullname in _REMOTE else None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return _remote_call if fullname == _DECORATOR_CALL else None

    def _is_actor_class(self, fullname: str) -> bool:
        sym = self.lookup_fully_qualified(fullname)
        return sym is not None and isinstance(sym.node, TypeInfo) and _META in sym.node.metadata


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point."""
    return ActorioPlugin


# --- handle.method -----------------------------------------------------------------------


def _handle_attribute(name: str, ctx: AttributeContext) -> Type:
    """``ActorHandle[C].name``: the typed method, or an error if ``C`` has no such method."""
    handle = ctx.type
    if not isinstance(handle, Instance) or handle.type.get(name) is not None or ctx.is_lvalue:
        return ctx.default_attr_type  # the handle's own attributes
    actor = get_proper_type(handle.args[0]) if handle.args else None
    if not isinstance(actor, Instance):
        return ctx.default_attr_type  # ActorHandle[Any], a type variable: nothing to map
    if name in _BUILTIN_RESULTS:
        result = _BUILTIN_RESULTS[name]
        ret: Type = ctx.api.named_generic_type(result, []) if result else NoneType()
        return _actor_method(ctx, Parameters([], [], []), ret)
    info = actor.type
    if not _is_remote_method(info, name):
        ctx.api.fail(
            f'Actor "{info.name}" has no remote method "{name}"',
            ctx.context,
            code=ATTR_DEFINED,
        )
        return AnyType(TypeOfAny.from_error)
    declared = _num_returns(info, name)
    if declared not in (None, 1):
        return AnyType(TypeOfAny.special_form)  # .remote() gives a list of refs, or None
    bound = get_proper_type(find_member(name, actor, actor))
    if not isinstance(bound, CallableType):  # overloaded, or a callable attribute
        return _actor_method(ctx, _any_params(), AnyType(TypeOfAny.special_form))
    ret = bound.ret_type
    params = Parameters(
        bound.arg_types, bound.arg_kinds, bound.arg_names, variables=bound.variables
    )
    yielded = _yielded(info, name, ret)
    if yielded is not None and declared == 1:  # a generator declaring one ref: its first item
        return _actor_method(ctx, params, yielded)
    if yielded is not None:  # a generator method: its calls stream
        return ctx.api.named_generic_type(_STREAMING_METHOD, [params, yielded])
    if _is_async(info, name):
        ret = _awaited(ret)
    return _actor_method(ctx, params, ret)


def _is_remote_method(info: TypeInfo, name: str) -> bool:
    """What ``ClassSpec.of`` serves: plain and ``async def`` methods, not dunders, static or
    class methods, properties, data attributes, or members the plugin added."""
    if name.startswith("__") and name.endswith("__"):
        return False
    sym = info.get(name)
    if sym is None or sym.plugin_generated:
        return False
    node = sym.node
    if isinstance(node, Decorator):
        node = node.func
    if isinstance(node, OverloadedFuncDef):
        return not (node.is_static or node.is_class or node.is_property)
    if isinstance(node, FuncDef):
        return not (node.is_static or node.is_class or node.is_property)
    if isinstance(node, Var):  # a function assigned in the class body is a method too
        return node.is_initialized_in_class and isinstance(get_proper_type(node.type), FunctionLike)
    return False


def _is_async(info: TypeInfo, name: str) -> bool:
    sym = info.get(name)
    node = sym.node if sym is not None else None
    if isinstance(node, Decorator):
        node = node.func
    return isinstance(node, FuncDef) and node.is_coroutine


def _yielded(info: TypeInfo, name: str, ret: Type) -> Type | None:
    """The item type of a generator method (sync or async), or None for other methods."""
    sym = info.get(name)
    node = sym.node if sym is not None else None
    if isinstance(node, Decorator):
        node = node.func
    if not isinstance(node, FuncDef) or not (node.is_generator or node.is_async_generator):
        return None
    proper = get_proper_type(ret)
    if isinstance(proper, Instance) and proper.args:
        return proper.args[0]  # Iterator[Y], Generator[Y, ...], AsyncIterator[Y], ...
    return AnyType(TypeOfAny.special_form)


def _awaited(ret: Type) -> Type:
    proper = get_proper_type(ret)
    if isinstance(proper, Instance) and proper.type.fullname == "typing.Coroutine":
        return proper.args[2]
    return ret


def _num_returns(info: TypeInfo, name: str) -> int | None:
    """The method's declared ``num_returns`` (-1: not an int literal), None if not declared."""
    for base in info.mro:
        counts = base.metadata.get(_META, {}).get("num_returns", {})
        if name in counts:
            return int(counts[name])
    return None


def _actor_method(ctx: AttributeContext, params: Parameters, ret: Type) -> Type:
    return ctx.api.named_generic_type(_PUBLIC_METHOD, [params, ret])


def _any_params() -> Parameters:
    any_t = AnyType(TypeOfAny.special_form)
    return Parameters([any_t, any_t], [ARG_STAR, ARG_STAR2], [None, None], is_ellipsis_args=True)


# --- @actorio.remote on a class ---------------------------------------------------------


def _add_actor_members(ctx: ClassDefContext) -> bool:
    """Give a decorated class ``remote`` and ``options`` (refined at each call) and record
    its methods' ``num_returns``; returns False to be called again once types are ready."""
    info = ctx.cls.info
    handle = ctx.api.named_type_or_none(_HANDLE, [_instance_of(info)])
    if handle is None:
        if not ctx.api.final_iteration:
            ctx.api.defer()
            return False
        return True
    any_t = AnyType(TypeOfAny.explicit)
    star = Argument(Var("args", any_t), any_t, None, ARG_STAR)
    star2 = Argument(Var("options", any_t), any_t, None, ARG_STAR2)
    if "remote" not in info.names:
        add_method_to_class(ctx.api, ctx.cls, "remote", [star, star2], handle, is_classmethod=True)
    if "options" not in info.names:
        self_type = TypeType(_instance_of(info))
        add_method_to_class(ctx.api, ctx.cls, "options", [star2], self_type, is_classmethod=True)
    info.metadata[_META] = {"num_returns": _declared_num_returns(ctx)}
    return True


def _instance_of(info: TypeInfo) -> Instance:
    return Instance(info, [AnyType(TypeOfAny.special_form)] * len(info.defn.type_vars))


def _declared_num_returns(ctx: ClassDefContext) -> dict[str, int]:
    """``num_returns`` from ``@actorio.method(...)`` in the class body (-1: not a literal)."""
    found: dict[str, int] = {}
    for stmt in ctx.cls.defs.body:
        if not isinstance(stmt, Decorator):
            continue
        for dec in stmt.decorators:
            if not (
                isinstance(dec, CallExpr)
                and isinstance(dec.callee, RefExpr)
                and dec.callee.fullname in _METHOD_DECORATORS
            ):
                continue
            for arg_name, arg in zip(dec.arg_names, dec.args, strict=True):
                if arg_name == "num_returns":
                    found[stmt.name] = arg.value if isinstance(arg, IntExpr) else -1
    return found


def _class_remote_signature(ctx: MethodSigContext) -> FunctionLike:
    """``C.remote(...)``: the constructor's parameters, returning ``ActorHandle[C]``."""
    info = _class_info(ctx.type)
    if info is None:
        return ctx.default_signature
    ctor = get_proper_type(type_object_type(info, _named_type(ctx.api)))
    if isinstance(ctor, CallableType):
        return _as_remote(ctx, ctor)
    if isinstance(ctor, Overloaded):
        return Overloaded([_as_remote(ctx, item) for item in ctor.items])
    return ctx.default_signature


def _named_type(api: CheckerPluginInterface) -> Callable[[str], Instance]:
    return lambda fullname: api.named_generic_type(fullname, [])


def _as_remote(ctx: MethodSigContext, ctor: CallableType) -> CallableType:
    handle = ctx.api.named_generic_type(_PUBLIC_HANDLE, [ctor.ret_type])
    return ctor.copy_modified(ret_type=handle, name="remote")


def _class_info(typ: ProperType) -> TypeInfo | None:
    if isinstance(typ, CallableType) and typ.is_type_obj():
        return typ.type_object()
    if isinstance(typ, TypeType) and isinstance(typ.item, Instance):
        return typ.item.type
    return None


# --- actorio.remote(C) and Supervisor.start -------------------------------------------


def _remote_call(ctx: FunctionContext | MethodContext) -> Type:
    """``actorio.remote(C)``: ``ActorClass[C, <constructor parameters>]``."""
    result = get_proper_type(ctx.default_return_type)
    arg = get_proper_type(ctx.arg_types[0][0]) if ctx.arg_types and ctx.arg_types[0] else None
    if not (
        isinstance(result, Instance)
        and result.type.fullname == _ACTOR_CLASS
        and isinstance(arg, CallableType)
        and arg.is_type_obj()
    ):
        return ctx.default_return_type
    ctor = get_proper_type(type_object_type(arg.type_object(), _named_type(ctx.api)))
    if not isinstance(ctor, CallableType) or ctor.variables:
        return ctx.default_return_type  # overloaded or generic: any arguments
    params = Parameters(ctor.arg_types, ctor.arg_kinds, ctor.arg_names)
    return result.copy_modified(args=[result.args[0], params])


def _supervisor_start(ctx: MethodSigContext) -> FunctionLike:
    """``sup.start(C, ...)`` with a decorated class ``C``: mypy sees ``type[C]``."""
    sig = ctx.default_signature
    first = get_proper_type(sig.arg_types[0]) if sig.arg_types else None
    if not (isinstance(first, Instance) and first.type.fullname == _ACTOR_CLASS):
        return sig
    either = UnionType([first, TypeType.make_normalized(first.args[0])])
    return sig.copy_modified(arg_types=[either, *sig.arg_types[1:]])
