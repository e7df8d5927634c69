"""The loader: where actors live, imported by name only when first used.

Each module ``actorio.backends._<name>`` implements the contract in :mod:`actorio._seam`
and ends with ``backend_class = ...``; the runtime calls :func:`get_backend` and never
imports a concrete backend itself.
"""

from __future__ import annotations

import concurrent.futures
from importlib import import_module
from typing import Protocol, cast

from .._seam import Backend

__all__ = ["close_backends", "engaged_backends", "get_backend", "tasks_finished"]

_LOADED: dict[str, Backend] = {}

#: Backends that may run this process's code before actorio loads them: a Ray worker runs
#: actor methods and tasks that Ray started, and their actorio calls must reach Ray.
_AMBIENT = ("ray",)


class _BackendModule(Protocol):
    """What a backend module offers the loader."""

    backend_class: type[Backend]

    def running_here(self) -> bool:
        """True when this process already runs the backend's engine (ambient backends)."""
        ...


def _module(name: str) -> _BackendModule:
    return cast(_BackendModule, import_module(f"actorio.backends._{name}"))


def get_backend(name: str) -> Backend:
    """The (shared) backend object called ``name``."""
    backend = _LOADED.get(name)
    if backend is None:
        backend = _LOADED[name] = _module(name).backend_class()
    return backend


def engaged_backends() -> list[Backend]:
    """The backends loaded so far, and an ambient one whose engine runs in this process."""
    for name in _AMBIENT:
        if name not in _LOADED and _module(name).running_here():
            get_backend(name)
    return list(_LOADED.values())


def tasks_finished() -> list[concurrent.futures.Future[None]]:
    """For each loaded backend, a future done once the remote functions it accepted have
    finished (shutdown waits on them; it loads nothing)."""
    return [backend.tasks_finished() for backend in list(_LOADED.values())]


def close_backends() -> None:
    """Let each loaded backend release what it holds (at shutdown, after every actor died),
    and forget it: a closed backend has stopped what it started (the process backend's notes
    thread, a Ray it started), so the next runtime that uses one makes it anew."""
    closing = list(_LOADED.values())
    _LOADED.clear()
    for backend in closing:
        backend.close()
