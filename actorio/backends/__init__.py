"""Where actors live. A backend module is imported by name, only when first used.

Each module ``actorio.backends._<name>`` ends with ``backend_class = ...``; the runtime calls
:func:`get_backend` and never imports a concrete backend itself.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._base import STOP_HOOK_TIMEOUT_S, ActorCore, ActorExit

__all__ = ["STOP_HOOK_TIMEOUT_S", "ActorCore", "ActorExit", "close_backends", "get_backend"]

_LOADED: dict[str, Any] = {}


def get_backend(name: str) -> Any:
    """The (shared) backend object called ``name``."""
    backend = _LOADED.get(name)
    if backend is None:
        backend = _LOADED[name] = import_module(f"actorio.backends._{name}").backend_class()
    return backend


def close_backends() -> None:
    """Let each loaded backend release what it holds (at shutdown, after every actor died)."""
    for backend in _LOADED.values():
        close = getattr(backend, "close", None)
        if close is not None:
            close()
