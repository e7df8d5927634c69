"""The Ray backend (``backend="ray"``): actors become Ray actors, remote functions Ray tasks.

actorio does not manage a cluster: it connects to Ray (``actorio.init(backend="ray",
address=...)``; ``None`` starts a local Ray instance, ``"auto"`` or ``ray://...`` joins an
existing cluster) or uses the Ray that the program already initialised. Ray is imported only
here, when the backend is first used.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import importlib
import sys
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from .._mailbox import make_refs
from .._options import BACKPRESSURE, ActorOptions, Mode
from .._runtime import get_runtime, reset
from .._seam import ActorCore, Backend, Hosted
from .._spec import ClassSpec, FunctionSpec
from .._stream import ObjectRefGenerator
from ..exceptions import InvalidOptionsError
from ._base import BackendBase, InFlight
from ._ray_actor import RayActor, wrap_ray_handle
from ._ray_link import RaySource, follow, ray_arguments, ray_placement, with_options

__all__ = ["RayBackend", "backend_class"]

_running_loop = asyncio._get_running_loop


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InvalidOptionsError(
            "backend='ray' needs Ray: pip install 'actorio[ray]' (or pick backend='local' / "
            "'process', which need nothing more)"
        ) from None
    return ray


class RayBackend(BackendBase):
    """Creates :class:`RayActor` cores and starts Ray tasks; starts Ray if nobody did."""

    name = "ray"

    def __init__(self) -> None:
        self.ray = _import_ray()
        self.started_ray = False
        if not self.ray.is_initialized():
            options = dict(get_runtime().backend_options)
            options.setdefault("log_to_driver", False)
            options.setdefault("include_dashboard", False)
            self.ray.init(**options)
            self.started_ray = True
        _shutdown_before_ray()
        self._functions: dict[Any, Any] = {}
        self.tasks = InFlight()

    def create_actor(
        self,
        actor_id: str,
        spec: ClassSpec,
        options: ActorOptions,
        mode: Mode,
        limit: int,
        loop: asyncio.AbstractEventLoop,
        namespace: str,
        on_death: Callable[[ActorCore], None],
    ) -> RayActor:
        return RayActor(actor_id, spec, options, mode, limit, loop, namespace, on_death)

    def lookup(self, name: str, namespace: str) -> ActorCore | None:
        """A named actor of the cluster that this process has not seen (made elsewhere)."""
        if not self.ray.is_initialized():
            return None  # Ray was shut down: asking would start a new one
        try:
            ray_handle = self.ray.get_actor(name, namespace=namespace)
        except ValueError:
            return None
        try:
            return self.wrap(ray_handle, name, namespace)
        except self.ray.exceptions.RayActorError:
            return None  # killed a moment ago: Ray still knows the name, the actor is gone

    def wrap(self, ray_handle: Any, name: str | None, namespace: str) -> RayActor:
        """An actorio core around a Ray handle that actorio did not make here."""
        cls = _class_of(ray_handle._ray_actor_creation_function_descriptor)
        if cls is None:  # not importable here: the actor sends its class (by value)
            cls = self.ray.get(ray_handle.__ray_call__.remote(_user_class))
        mode, limit = ActorOptions().resolve_mode(ClassSpec.of(cls))
        actor_id = ray_handle._actor_id.hex()
        core = wrap_ray_handle(ray_handle, actor_id, cls, name, namespace, mode, limit)
        core.limit_known = False  # a guess from the class: its options are Ray's to know
        return core

    def hosted(self) -> Hosted | None:
        """The Ray actor running this code, inside a Ray actor's method (a Ray worker)."""
        if not self.ray.is_initialized():
            return None
        context = self.ray.get_runtime_context()
        actor_id = context.get_actor_id()
        if actor_id is None:
            return None
        return Hosted(
            str(actor_id),
            context.get_actor_name() or None,
            bool(context.was_current_actor_reconstructed),
            self._current,
            self.ray.actor.exit_actor,
        )

    def _current(self) -> ActorCore:
        context = self.ray.get_runtime_context()
        known = get_runtime().registry.actors.get(context.get_actor_id())
        if known is not None:
            return known
        return self.wrap(context.current_actor, context.get_actor_name(), context.namespace)

    def node_id(self) -> str | None:
        if not self.ray.is_initialized():
            return None
        return str(self.ray.get_runtime_context().get_node_id())

    def progress_bar(self, options: dict[str, Any]) -> Any | None:
        """In a Ray worker, Ray's own bar: Ray's driver draws it with the others (a bar made
        in the driver is drawn by actorio, as Ray would draw it there)."""
        if not self.ray.is_initialized():
            return None
        worker = getattr(getattr(self.ray, "_private", None), "worker", None)
        mode = getattr(getattr(worker, "global_worker", None), "mode", None)
        if mode != getattr(self.ray, "WORKER_MODE", object()):
            return None
        from ray.experimental import tqdm_ray

        return tqdm_ray.tqdm(**options)

    def submit_task(
        self,
        spec: FunctionSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
        host_loop: asyncio.AbstractEventLoop,
        pool: Executor,
    ) -> Any:
        fn = self._functions.get(spec.fn)
        if fn is None:
            # Ray runs plain functions only: an async one gets its own loop in the worker.
            target = spec.fn
            if spec.is_async:
                target = _agen_on_own_loop(spec.fn) if spec.stream else _on_own_loop(spec.fn)
            fn = self._functions[spec.fn] = self.ray.remote(target)
        ray_opts = ray_placement(options.get("ray_options", {}))
        num_returns = options.get("num_returns", 1)
        if spec.stream:  # Ray's own generator calls: streaming, static or dynamic
            ray_opts["num_returns"] = num_returns
            if BACKPRESSURE in options:
                ray_opts[BACKPRESSURE] = options[BACKPRESSURE]
        elif num_returns != 1:
            ray_opts["num_returns"] = max(num_returns, 1)
        for key in ("max_retries", "retry_exceptions", "name"):
            if key in options:
                value = options[key]
                ray_opts[key] = list(value) if isinstance(value, tuple) else value
        args, kwargs = ray_arguments(args, kwargs, spec.name)
        result = (with_options(fn, ray_opts) if ray_opts else fn).remote(*args, **kwargs)
        if num_returns == "streaming":
            return ObjectRefGenerator(RaySource(result, spec.name, host_loop), 0, spec.name)
        ref = make_refs(_running_loop(), host_loop, num_returns)
        refs = ref if isinstance(ref, list) else [ref] if ref is not None else []
        theirs = result if isinstance(result, list) else [result]
        # Counted until Ray has its outcome, so that shutdown waits for it before it shuts
        # down a Ray it started (Ray does not promise to run a task its driver left behind).
        self.tasks.enter()
        theirs[0].future().add_done_callback(self.tasks.leave)
        for mine, their in zip(refs, theirs, strict=False):
            follow(their, mine, spec.name, generator=spec.stream)
        return ref

    def tasks_finished(self) -> concurrent.futures.Future[None]:
        return self.tasks.idle()

    def close(self) -> None:
        if self.started_ray and self.ray.is_initialized():
            self.ray.shutdown()


_EXIT_HOOKED = False


def _shutdown_before_ray() -> None:
    """Have actorio's graceful shutdown run at exit before Ray's own (exit hooks run last
    registered first, and ``ray.init`` registers Ray's), so Ray actors still get their stop
    hooks and pending calls their answers while Ray is up."""
    global _EXIT_HOOKED
    if not _EXIT_HOOKED:
        atexit.register(reset)
        _EXIT_HOOKED = True


def _on_own_loop(fn: Any) -> Any:
    """A plain function running the coroutine function ``fn`` to completion."""

    def run_to_end(*args: Any, **kwargs: Any) -> Any:
        # Imported here: Ray sends this closure to its workers by value, without the
        # globals of this module.
        from .._runtime import run

        return run(fn(*args, **kwargs))

    run_to_end.__name__ = run_to_end.__qualname__ = getattr(fn, "__name__", "task")
    return run_to_end


def _agen_on_own_loop(fn: Any) -> Any:
    """A plain generator yielding what the async generator function ``fn`` yields, each item
    awaited on a loop of its own (Ray streams plain generators only)."""

    def run_to_end(*args: Any, **kwargs: Any) -> Any:
        import asyncio

        loop = asyncio.new_event_loop()
        agen = fn(*args, **kwargs)
        try:
            while True:
                try:
                    yield loop.run_until_complete(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(agen.aclose())
            loop.close()

    run_to_end.__name__ = run_to_end.__qualname__ = getattr(fn, "__name__", "task")
    return run_to_end


def _user_class(instance: Any) -> type:
    """Runs inside the actor: the user's class (Ray serves a subclass of it)."""
    cls = type(instance)
    return getattr(cls, "__ray_actor_class__", cls)


def _class_of(descriptor: Any) -> type | None:
    """The Python class of a Ray actor found by name, when this process can import it."""
    try:
        module = importlib.import_module(descriptor.module_name)
        obj: Any = module
        for part in descriptor.class_name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return getattr(obj, "__ray_actor_class__", obj) if isinstance(obj, type) else None


def running_here() -> bool:
    """True when this process runs Ray already (a Ray worker, or a driver that called
    ``ray.init`` itself): actorio calls made here must reach Ray even if they never named
    the backend (``get_actor``, ``exit_actor``, the runtime context)."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


#: what the loader instantiates; typed, so that mypy checks it against the contract
backend_class: type[Backend] = RayBackend
