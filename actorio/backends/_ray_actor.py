"""The driver's side of an actor hosted by Ray: Ray runs it; this core keeps actorio's
refs, errors, counters and death notices around Ray's handle.

What maps onto Ray directly: modes (Ray infers async and threaded actors the same way
actorio does), ``max_concurrency``, concurrency groups, names, namespaces, ``get_if_exists``,
``lifetime``, ``max_restarts``, ``max_task_retries``, ``max_pending_calls`` and placement
options (passed as they are); ``kill`` is ``ray.kill``, ``cancel`` is ``ray.cancel``. What
actorio adds on this side: per-call ``timeout`` (cancels the Ray task), ``monitor`` (fires
when the actor is killed through actorio or a call finds it dead), counters for the state API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from time import perf_counter
from typing import Any

from .._mailbox import first_ref, make_refs
from .._options import ActorOptions, Mode
from .._ref import CycleRef, ObjectRef, fresh_copy
from .._runtime import get_runtime
from .._seam import STOP_HOOK_TIMEOUT_S, ActorCore, Reducer
from .._spec import ClassSpec, MethodSpec
from .._stats import ActorState, make_state
from ..exceptions import (
    ActorDiedError,
    ActorNameTakenError,
    InvalidOptionsError,
    PendingCallsLimitExceeded,
)
from ._base import Forwarding, checked_remote, expire, settle_soon
from ._ray_hosted import hosted_class
from ._ray_link import RaySource, follow, ray_arguments, ray_placement, translate, with_options

__all__ = ["RayActor", "ray_class"]

_running_loop = asyncio._get_running_loop
WATCH_EVERY_S = 0.2
_CLASSES: dict[tuple[type, tuple[tuple[str, int], ...]], Any] = {}


def ray_class(cls: type, groups: tuple[tuple[str, int], ...] = ()) -> Any:
    """The Ray actor class of a user class, made once per class and set of concurrency
    groups (Ray takes groups only when the class is declared)."""
    made = _CLASSES.get((cls, groups))
    if made is None:
        import ray

        declare = ray.remote(concurrency_groups=dict(groups)) if groups else ray.remote
        made = _CLASSES[(cls, groups)] = declare(hosted_class(cls))
    return made


class RayActor(Forwarding):
    """One actor on a Ray cluster, seen from this process."""

    kind = "Ray actor"
    #: Ray decides restarts (it gives no death notice a supervisor could act on)
    supervisable = False

    def __init__(
        self,
        actor_id: str,
        spec: ClassSpec,
        options: ActorOptions,
        mode: Mode,
        limit: int,
        loop: asyncio.AbstractEventLoop,
        namespace: str,
        on_death: Any,
        ray_handle: Any = None,
    ) -> None:
        self.init_core(actor_id, spec, options, mode, loop, namespace, on_death, threading.Lock())
        self.limit = limit
        self.ray_handle = ray_handle
        self.idle_waiters: tuple[concurrent.futures.Future[None], ...] = ()
        self.stopping = False
        self.pending: dict[int, float] = {}  # id(ref) -> when the call was made
        self.watching = False
        self.limit_known = True  # False for a handle found by name: limit is then a guess
        self.is_self = False  # a handle held by the very actor it points to (set when wrapped)

    # -- creation --------------------------------------------------------------------------------

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        opts = self.options
        ray_opts: dict[str, Any] = ray_placement(opts.ray_options)
        if opts.name:
            ray_opts.update(name=opts.name, namespace=self.namespace)
            if opts.get_if_exists:
                ray_opts["get_if_exists"] = True
        if opts.lifetime:
            ray_opts["lifetime"] = opts.lifetime
        if opts.max_concurrency is not None or self.mode != "regular":
            ray_opts["max_concurrency"] = self.limit
        ray_opts.update(
            max_restarts=opts.max_restarts,
            max_task_retries=opts.max_task_retries,
            max_pending_calls=opts.max_pending_calls,
        )
        args, kwargs = ray_arguments(args, kwargs, f"{self.spec.name}.__init__")
        try:
            groups = tuple(sorted(opts.concurrency_groups.items()))
            declared = ray_class(self.spec.cls, groups)
            self.ray_handle = declared.options(**ray_opts).remote(*args, **kwargs)
        except ValueError as exc:
            self._gone(ActorDiedError(f"The {self.describe()} could not be created: {exc}"))
            if ("already" in str(exc) and "taken" in str(exc)) or "exists" in str(exc):
                raise ActorNameTakenError(
                    f"an actor named {opts.name!r} already exists in namespace "
                    f"{self.namespace!r} on the Ray cluster; pick another name, pass "
                    f"get_if_exists=True to reuse it, or actorio.kill() it first"
                ) from exc
            raise InvalidOptionsError(f"Ray refused to create {self.spec.name}: {exc}") from exc
        except Exception:
            self._gone(ActorDiedError(f"The {self.describe()} could not be created."))
            raise
        # From now on the actor answers to Ray's id: the same in every process of the cluster.
        registry = get_runtime().registry
        registry.actors.pop(self.actor_id)
        self.actor_id = self.ray_handle._actor_id.hex()
        registry.add(self)

    # -- calls ----------------------------------------------------------------------------------

    def submit(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        num_returns: int,
        group: str | None,
        options: Any = None,
    ) -> Any:
        ref = make_refs(_running_loop(), self.loop, num_returns)
        if num_returns == 1 and self._calls_itself(method, group):
            ref = CycleRef(loop=ref._loop)
            ref.cycle = (
                f"awaiting {self.qualname(method)} would deadlock: the {self.describe()} calls "
                f"itself and its only slot (max_concurrency=1) is held by the caller. Make it "
                f"async with max_concurrency > 1, or do not wait for the call"
            )
        if self.refuse(ref):
            return ref
        what = self.qualname(method)
        try:
            self.check_room(method, self.options.max_pending_calls)
        except PendingCallsLimitExceeded as exc:  # also an instance of Ray's class, as Ray's
            import ray.exceptions

            raise translate(ray.exceptions.PendingCallsLimitExceeded(str(exc)), what) from None
        ray_opts: dict[str, Any] = {}
        generator = method.name.endswith("#collect")  # Ray runs the generator method itself
        if generator:
            method, declared, *rest = self.spec.methods[method.name[:-8]], *args
            args = tuple(rest)
            ray_opts["num_returns"] = "dynamic" if declared is None else max(declared, 1)
        elif num_returns != 1:
            ray_opts["num_returns"] = max(num_returns, 1)
        args, kwargs = ray_arguments(args, kwargs, what)
        options = options or method.options
        if group is not None:
            ray_opts["concurrency_group"] = group
        retry_on = self.options.retry_exceptions  # Ray takes it per call, not per actor
        if options is not None:
            if options.max_task_retries is not None:
                ray_opts["max_task_retries"] = options.max_task_retries
            if options.retry_exceptions is not None:
                retry_on = options.retry_exceptions
        if retry_on:
            ray_opts["retry_exceptions"] = _retry_value(retry_on)
        ray_method = getattr(self.ray_handle, method.name)
        if ray_opts:
            ray_method = with_options(ray_method, ray_opts)
        try:
            result = ray_method.remote(*args, **kwargs)
        except Exception as exc:  # Ray's PendingCallsLimitExceeded, say: as actorio's
            raise translate(exc, what) from exc
        refs = ref if isinstance(ref, list) else [ref] if ref is not None else []
        ray_refs = result if isinstance(result, list) else [result]
        key = id(ray_refs[0])
        self.pending[key] = perf_counter()
        for i, (mine, theirs) in enumerate(zip(refs, ray_refs, strict=False)):
            counted = i == 0  # the call's first ref carries its counters
            done = (lambda ok, v: self._done(key, method, ok, v)) if counted else None
            follow(theirs, mine, what, done, generator=generator)
        if not refs:  # num_returns=0: nobody reads it, but the counters still do
            ray_refs[0].future().add_done_callback(
                lambda f: self._done(key, method, f.exception() is None, f.exception())
            )
        timeout = options.timeout if options is not None else None
        first = first_ref(ref)
        if timeout is not None and first is not None:
            first._loop.call_soon_threadsafe(first._loop.call_later, timeout, expire, ref, timeout)
        return ref

    def open_stream(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        group: str | None,
        window: int,
    ) -> RaySource:
        """A generator method's call as Ray's own streaming call, with Ray's backpressure."""
        what = self.qualname(method)
        if self.death is not None:
            raise fresh_copy(self.death)  # the record's own stays free of this caller's frames
        args, kwargs = ray_arguments(args, kwargs, what)
        ray_opts: dict[str, Any] = {
            "num_returns": "streaming",
            "_generator_backpressure_num_objects": window,
        }
        if group is not None:
            ray_opts["concurrency_group"] = group
        ray_gen = getattr(self.ray_handle, method.name).options(**ray_opts).remote(*args, **kwargs)
        return RaySource(ray_gen, what, self.loop)

    def _calls_itself(self, method: MethodSpec, group: str | None) -> bool:
        """True for a call this actor makes to itself with no free slot to run it in (the
        direct case of what in-process actors detect along whole call chains)."""
        return (
            self.is_self
            and self.limit == 1
            and self.limit_known
            and not (self.options.concurrency_groups or group or method.builtin)
        )

    def _done(self, key: int, method: MethodSpec, ok: bool, value: Any) -> None:
        started = self.pending.pop(key, None)
        elapsed = perf_counter() - started if started is not None else 0.0
        if ok:
            self.stats.ok(elapsed)
        else:
            self.stats.error(elapsed, method.name, value)
            if (
                isinstance(value, ActorDiedError)
                and self.options.max_restarts == 0
                and not isinstance(value.__cause__, _unavailable())
                and self.death is None
            ):
                self._gone(value)  # it cannot restart: its death is final
        self._check_idle()
        if self.room_waiters:
            with self.lock:
                waiters, self.room_waiters = self.room_waiters, ()
            for w in waiters:
                settle_soon(w, None)

    def bind(
        self, method: MethodSpec, num_returns: int, group: str | None, options: Any = None
    ) -> Any:
        if group is not None and group not in self.options.concurrency_groups:
            raise InvalidOptionsError(
                f"{self.describe()} has no concurrency group {group!r}; it has "
                f"{sorted(self.options.concurrency_groups)}"
            )
        return checked_remote(self, method, num_returns, group, options)

    # -- lifecycle --------------------------------------------------------------------------------

    def kill(self, err: ActorDiedError, restart: bool = False, forced: bool = False) -> None:
        import ray

        if self.ray_handle is None:
            return
        if not ray.is_initialized():
            # Ray was shut down already (say its exit hook ran first): the actor went with it,
            # and any call now would start a new local Ray (seconds) just to reach it.
            if self.death is None:
                self._gone(err)
            return
        if restart:
            self.restart_count += 1
            ray.kill(self.ray_handle, no_restart=False)
            return
        if self.death is not None:
            return
        if self.stopping and not self.pending:
            try:
                self._terminate(err)
                return
            except Exception:  # Ray is shutting down (an exit hook): just mark it dead
                pass
        try:
            ray.kill(self.ray_handle, no_restart=True)
        except Exception:  # already gone on the cluster
            pass
        self._gone(err)

    def _terminate(self, err: ActorDiedError) -> None:
        """End a stopping actor with nothing in flight the graceful way (Ray's
        ``__ray_terminate__``), so that its stop hook runs; killed if that takes too long."""
        import ray

        ended = self.ray_handle.__ray_terminate__.remote().future()
        self.death = err  # refuse new calls from now on
        timer = threading.Timer(STOP_HOOK_TIMEOUT_S + 1, ray.kill, args=(self.ray_handle,))
        timer.daemon = True
        timer.name = "actorio-kill-timer"
        timer.start()

        def done(_: Any) -> None:
            timer.cancel()
            self._gone(err)

        ended.add_done_callback(done)

    def monitor(self) -> ObjectRef[ActorDiedError]:
        """As for every actor; on Ray it also starts a watcher, since Ray tells nobody of an
        actor's death: it asks the actor every ``WATCH_EVERY_S`` whether it is alive."""
        ref = super().monitor()
        with self.lock:
            start, self.watching = not self.watching and not self.finished, True
        if start:
            threading.Thread(target=self._watch, name="actorio-ray-watch", daemon=True).start()
        return ref

    def _watch(self) -> None:
        import ray

        while not self.finished and ray.is_initialized():  # (a call would start a new Ray)
            try:
                ray.get(self.ray_handle.__ray_ready__.remote())
            except (_unavailable(), ray.exceptions.PendingCallsLimitExceeded):
                pass  # restarting, or busy: alive, as far as monitors go
            except ray.exceptions.RayActorError as exc:
                if not self.finished:
                    self._gone(translate(exc, self.describe()))  # type: ignore[arg-type]
                return
            except Exception:  # Ray itself is shutting down
                return
            time.sleep(WATCH_EVERY_S)

    def _gone(self, err: ActorDiedError) -> None:
        with self.lock:
            if self.finished:
                return
            self.death = self.death or err
            self.finished = True
            monitors, self.monitors = self.monitors, ()
            idle, self.idle_waiters = self.idle_waiters, ()
            rooms, self.room_waiters = self.room_waiters, ()
        for ref in monitors:
            settle_soon(ref, self.death)
        for ref in rooms:
            settle_soon(ref, None)
        for cf in idle:
            if not cf.done():
                cf.set_result(None)
        self.on_death(self)

    def snapshot(self) -> ActorState:
        label = "DEAD" if self.death is not None else "STOPPING" if self.stopping else "ALIVE"
        pending = len(self.pending)
        running = min(pending, self.limit) if label != "DEAD" else 0
        return make_state(
            self, "ray", label, 0, self.restart_count, pending - running, running, self.stats
        )

    @property
    def outlives_runtime(self) -> bool:
        return self.options.lifetime == "detached"  # Ray keeps it after the driver exits

    def reduce_handle(self) -> Reducer:
        """How a handle to this actor travels: with Ray's handle, which works anywhere on
        the cluster (a Ray task, another Ray actor, another driver)."""
        return (
            _from_ray_handle,
            (
                self.ray_handle,
                self.actor_id,
                self.spec.cls,
                self.name,
                self.namespace,
                self.mode,
                self.limit,
            ),
        )


def _from_ray_handle(
    ray_handle: Any,
    actor_id: str,
    cls: type,
    name: str | None,
    namespace: str,
    mode: Mode,
    limit: int,
) -> ActorCore:
    core = get_runtime().registry.actors.get(actor_id)
    if core is None:
        core = wrap_ray_handle(ray_handle, actor_id, cls, name, namespace, mode, limit)
    return core


def wrap_ray_handle(
    ray_handle: Any,
    actor_id: str,
    cls: type,
    name: str | None,
    namespace: str,
    mode: Mode,
    limit: int,
) -> RayActor:
    """A core around a Ray handle made elsewhere (unpickled, or found by name)."""
    rt = get_runtime()
    options = ActorOptions(name=name)
    core = RayActor(
        actor_id,
        ClassSpec.of(cls),
        options,
        mode,
        limit,
        rt.host_loop(),
        namespace,
        lambda actor: None,
        ray_handle,
    )
    import ray

    # Asked once here, not per call: a process hosts one Ray actor for its whole life.
    core.is_self = ray.get_runtime_context().get_actor_id() == actor_id
    rt.registry.add(core)
    return core


def _unavailable() -> type[BaseException]:
    """Ray's error for an actor that is restarting: calls fail, the actor lives on."""
    import ray.exceptions

    return ray.exceptions.ActorUnavailableError  # type: ignore[no-any-return]


def _retry_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
