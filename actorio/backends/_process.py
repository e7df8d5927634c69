"""The process backend: each actor in its own worker process, for CPU parallelism and
isolation (``backend="process"``)."""

from __future__ import annotations

from typing import Any

from ..exceptions import InvalidOptionsError
from ._process_actor import ProcessActor
from ._spawner import stop_spawner

__all__ = ["ProcessBackend", "backend_class"]


class ProcessBackend:
    """Creates :class:`ProcessActor` objects; remote functions are not hosted here yet."""

    name = "process"

    def create_actor(self, *args: Any) -> ProcessActor:
        return ProcessActor(*args)

    def close(self) -> None:
        stop_spawner()

    def submit_task(self, *args: Any) -> Any:
        raise InvalidOptionsError(
            "remote functions cannot run on the process backend yet; run them in-process "
            "(backend='local') or move the work into a process actor"
        )


backend_class = ProcessBackend
