"""How a user's class or function travels to another process: by name when it can be
imported there (tracebacks then show its source), else by value (cloudpickle)."""

from __future__ import annotations

import importlib
import sys
from typing import Any

__all__ = ["import_by_name", "portable"]


class _ByName:
    """Stands for an importable class or function in a pickle: unpickling imports it."""

    __slots__ = ("module", "qualname")

    def __init__(self, module: str, qualname: str) -> None:
        self.module = module
        self.qualname = qualname

    def __reduce__(self) -> tuple[Any, ...]:
        return (import_by_name, (self.module, self.qualname))


def import_by_name(module: str, qualname: str) -> Any:
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
