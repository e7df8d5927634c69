"""actorio: Ray-style actors on an asyncio event loop.

``import actorio as ray`` runs typical Ray actor scripts unchanged; inside async code,
``await handle.method.remote()`` gives the result at a cost close to a bare queue round trip.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import exceptions as exceptions
from ._actor import ActorClass as ActorClass
from ._api import cancel as cancel
from ._api import exit_actor as exit_actor
from ._api import get as get
from ._api import get_actor as get_actor
from ._api import kill as kill
from ._api import method as method
from ._api import monitor as monitor
from ._api import pending_calls as pending_calls
from ._api import put as put
from ._api import remote as remote
from ._api import wait as wait
from ._api import wait_for_death as wait_for_death
from ._dynamic import DynamicObjectRefGenerator as DynamicObjectRefGenerator
from ._function import RemoteFunction as RemoteFunction
from ._handle import ActorHandle as ActorHandle
from ._handle import ActorMethod as ActorMethod
from ._ref import ObjectRef as ObjectRef
from ._runtime import run as run
from ._runtime_context import RuntimeContext as RuntimeContext
from ._runtime_context import get_runtime_context as get_runtime_context
from ._setup import init as init
from ._setup import is_initialized as is_initialized
from ._setup import shutdown as shutdown
from ._setup import shutdown_async as shutdown_async
from ._stream import ObjectRefGenerator as ObjectRefGenerator
from ._stream import StreamingMethod as StreamingMethod
from ._supervisor import Supervisor as Supervisor
from ._supervisor import supervisor as supervisor

if TYPE_CHECKING:
    from . import actor as actor
    from . import cloudpickle as cloudpickle
    from . import experimental as experimental
    from . import util as util

__version__ = "0.1.0"

__all__ = [
    "ActorClass",
    "ActorHandle",
    "ActorMethod",
    "DynamicObjectRefGenerator",
    "ObjectRef",
    "ObjectRefGenerator",
    "RemoteFunction",
    "RuntimeContext",
    "StreamingMethod",
    "Supervisor",
    "cancel",
    "exceptions",
    "exit_actor",
    "get",
    "get_actor",
    "get_runtime_context",
    "init",
    "is_initialized",
    "kill",
    "method",
    "monitor",
    "pending_calls",
    "put",
    "remote",
    "run",
    "shutdown",
    "shutdown_async",
    "supervisor",
    "util",
    "wait",
    "wait_for_death",
]

# Public classes report 'actorio' as their module: stable in reprs, docs and pickles.
for _name in __all__:
    _obj = globals().get(_name)
    if isinstance(_obj, type):
        _obj.__module__ = "actorio"
del _name, _obj


#: submodules reachable as attributes, as Ray's are (``ray.util``, ``ray.actor.exit_actor()``)
_SUBMODULES = frozenset({"actor", "cloudpickle", "experimental", "util"})


def __getattr__(name: str) -> Any:
    # Built on this package's public names, so imported on first use: importing them here
    # would be an import cycle (and would load tqdm's and cloudpickle's users for nothing).
    if name in _SUBMODULES:
        return import_module(f"actorio.{name}")
    raise AttributeError(f"module 'actorio' has no attribute {name!r}")
