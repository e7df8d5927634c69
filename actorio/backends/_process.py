"""The process backend: each actor in its own worker process, for CPU parallelism and
isolation (``backend="process"``). Remote functions run on a few shared *task host*
processes (one per core), each an async actor that runs ``async def`` functions on its loop
and plain ``def`` functions on its threads. A generator function streams through the task
host's own generator method (``TaskHost.stream``), as a generator method of any actor does;
with a static ``num_returns`` or ``"dynamic"`` it runs to its end in ``TaskHost.run``.

A task host that dies (a crash, a signal, ``os._exit``) is restarted; each task it was
running is sent to the new one while its ``max_retries`` allow (Ray's default: 3), and then
fails with ``WorkerCrashedError``. Every task in flight on that host counts the crash,
not only the one that caused it: they share the process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import itertools
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from typing import Any

from .._options import BACKPRESSURE, ActorOptions, Mode, task_crash_retries, task_retry_policy
from .._portable import portable
from .._seam import ActorCore, Backend
from .._spec import ClassSpec, FunctionSpec
from .._stream import DEFAULT_WINDOW, ObjectRefGenerator, PullSource
from .._yield import acollect, collect
from ..exceptions import ActorDiedError, WorkerCrashedError
from . import _objects, _shm
from ._base import BackendBase, done_future
from ._process_actor import ProcessActor
from ._process_calls import AllDone, PendingCall
from ._spawner import stop_spawner

__all__ = ["ProcessBackend", "TaskHost", "TaskHostActor", "backend_class"]

_END = object()  # a plain generator's end, as next() reports it from a thread


class TaskHost:
    """Runs remote functions sent by the driver (an async actor in a worker process)."""

    async def run(
        self,
        fn: Callable[..., Any],
        retries: Any,
        num_returns: int | None,
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Run ``fn`` (a generator to its end, for its ``num_returns``: see ``_yield``). The
        task's own arguments are this call's: so its ref arguments are resolved (in the
        driver, in order) as an actor call's are."""
        budget, retry_on = retries
        what = getattr(fn, "__qualname__", "task")
        attempt = 0
        while True:
            try:
                if inspect.isasyncgenfunction(fn):
                    return await acollect(fn(*args, **kwargs), num_returns, what)
                if inspect.iscoroutinefunction(fn):
                    return await fn(*args, **kwargs)
                run = contextvars.copy_context().run
                if inspect.isgeneratorfunction(fn):
                    call = functools.partial(run, _collected, fn, args, kwargs, num_returns, what)
                else:
                    call = functools.partial(run, fn, *args, **kwargs)
                return await asyncio.get_running_loop().run_in_executor(None, call)
            except Exception as exc:
                matches = retry_on is True or (retry_on and isinstance(exc, retry_on))
                if not matches or (budget != -1 and attempt >= budget):
                    raise
                attempt += 1

    async def stream(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        """A generator function's items, streamed (run ahead as a task of this actor); a
        plain one advances on the loop's threads, one item at a time."""
        if inspect.isasyncgenfunction(fn):
            async for item in fn(*args, **kwargs):
                yield item
            return
        gen = fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        turn = threading.Lock()  # a step still running when the stream stops ends first

        def advance() -> Any:
            with turn:
                return next(gen, _END)

        def close() -> None:
            with turn:
                gen.close()

        try:
            while True:
                run = functools.partial(contextvars.copy_context().run, advance)
                item = await loop.run_in_executor(None, run)
                if item is _END:
                    return
                yield item
        finally:  # (not awaited: it may wait for a step in flight, which cannot be stopped)
            loop.run_in_executor(None, close).add_done_callback(_retrieved)


class TaskHostActor(ProcessActor):
    """The driver's side of a task host: a call lost with its worker is a task whose worker
    crashed, and its error says so."""

    def lost_call(self, entry: PendingCall, reason: ActorDiedError) -> Exception:
        how = reason.why or reason.args[0]
        if "#" in entry.method.name:  # a part of a stream: the items it gave are gone
            return WorkerCrashedError(
                f"The worker died unexpectedly while executing a streaming task: {how}. A "
                f"streaming task is not retried.",
                reason,
            )
        runs = entry.attempts + 1
        return WorkerCrashedError(
            f"The worker died unexpectedly while executing task {entry.what}: {how}. It ran "
            f"{runs} time{'s' if runs > 1 else ''}; max_retries={entry.retries} allows no "
            f"more (raise it, or -1 to retry forever).",
            reason,
        )


class ProcessBackend(BackendBase):
    """Creates :class:`ProcessActor` objects and runs remote functions on task hosts."""

    name = "process"

    def __init__(self) -> None:
        _objects.install()  # refs may travel to workers now
        _shm.start_notes()  # (up front: notes may be made inside the garbage collector)
        self._hosts: list[TaskHostActor] = []
        self._next = itertools.count()
        self._lock = threading.Lock()

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
    ) -> ProcessActor:
        return ProcessActor(actor_id, spec, options, mode, limit, loop, namespace, on_death)

    def close(self) -> None:
        with self._lock:
            hosts, self._hosts = self._hosts, []
        for host in hosts:
            host.kill(_shutdown_error(host))
        stop_spawner()
        _shm.stop_notes()

    def submit_task(
        self,
        spec: FunctionSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
        host_loop: asyncio.AbstractEventLoop,
        pool: Executor,
    ) -> Any:
        host = self._host(host_loop)
        num_returns = options.get("num_returns", 1)
        if num_returns == "streaming":
            parts = ("open", "next", "close")
            hidden = {part: host.spec.methods[f"stream#{part}"] for part in parts}
            window = options.get(BACKPRESSURE) or DEFAULT_WINDOW
            source = PullSource(host, hidden, (portable(spec.fn), args, kwargs), {}, None, window)
            return ObjectRefGenerator(source, window, spec.name)
        retries = task_retry_policy(options)
        run = host.spec.methods["run"]
        declared = None if num_returns == "dynamic" else num_returns
        return host.submit(
            run,
            (portable(spec.fn), retries, declared, *args),
            kwargs,
            1 if declared is None else declared,
            None,
            what=spec.name,
            retries=task_crash_retries(options),
        )

    def tasks_finished(self) -> concurrent.futures.Future[None]:
        """Done once every task host has answered all it was sent (it accepts more meanwhile:
        actors stopping later may still start tasks)."""
        with self._lock:
            hosts = list(self._hosts)
        idle = [host.idle() for host in hosts]
        if not idle:
            return done_future()
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        when_all = AllDone(len(idle), lambda: done.set_result(None))
        for cf in idle:
            cf.add_done_callback(when_all)
        return done

    def _host(self, loop: asyncio.AbstractEventLoop) -> TaskHostActor:
        with self._lock:
            self._hosts = [h for h in self._hosts if h.alive]
            if len(self._hosts) < (os.cpu_count() or 2):
                host = TaskHostActor(
                    f"task-host-{len(self._hosts)}",
                    ClassSpec.of(TaskHost),
                    ActorOptions(max_concurrency=1000, max_restarts=-1),
                    "async",
                    1000,
                    loop,
                    "actorio-internal",
                    lambda actor: None,
                )
                host.start((), {})
                self._hosts.append(host)
                return host
            return self._hosts[next(self._next) % len(self._hosts)]


def _retrieved(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()  # a generator that refused to close: nothing more to do about it


def _collected(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    num_returns: int | None,
    what: str,
) -> Any:
    return collect(fn(*args, **kwargs), num_returns, what)


def _shutdown_error(host: ProcessActor) -> ActorDiedError:
    return ActorDiedError(f"The {host.describe()} is dead: actorio.shutdown() was called.")


#: what the loader instantiates; typed, so that mypy checks it against the contract
backend_class: type[Backend] = ProcessBackend
