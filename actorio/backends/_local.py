"""The in-process backend (the default): actors on event loops of this process."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from .._options import ActorOptions, Mode
from .._seam import ActorCore, Backend
from .._spec import ClassSpec, FunctionSpec
from ._base import BackendBase, InFlight
from ._local_actor import LocalActor
from ._local_stream import stop_task_streams
from ._local_task import submit_task

__all__ = ["LocalBackend", "backend_class"]


class LocalBackend(BackendBase):
    """Creates :class:`LocalActor` objects and runs remote functions in-process."""

    name = "local"

    def __init__(self) -> None:
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
    ) -> LocalActor:
        return LocalActor(actor_id, spec, options, mode, limit, loop, namespace, on_death)

    def submit_task(
        self,
        spec: FunctionSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
        host: asyncio.AbstractEventLoop,
        pool: Executor,
    ) -> Any:
        return submit_task(spec, args, kwargs, options, host, pool, self.tasks)

    def tasks_finished(self) -> concurrent.futures.Future[None]:
        return self.tasks.idle()

    def close(self) -> None:
        stop_task_streams()  # a generator task nobody reads would wait for room for ever


#: what the loader instantiates; typed, so that mypy checks it against the contract
backend_class: type[Backend] = LocalBackend
