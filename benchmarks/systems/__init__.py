"""Every system under test, in table order: the baselines and floors, actorio, the peers."""

from __future__ import annotations

from ._actorio import ActorioLocal, ActorioMailbox, ActorioProcess, ActorioRay
from ._bare import Bare, BareDeque, Direct
from ._base import AsyncSystem, BulkCalls, LoopFactory, SyncSystem, System
from ._memcpy import Memcpy
from ._pipe import Pipe
from ._pykka import Pykka
from ._ray import Ray
from ._xoscar import Xoscar

__all__ = [
    "BASELINES",
    "SYSTEMS",
    "AsyncSystem",
    "BulkCalls",
    "LoopFactory",
    "Memcpy",
    "SyncSystem",
    "System",
]

SYSTEMS: dict[str, type[System]] = {
    s.name: s
    for s in (
        Bare,
        BareDeque,
        Direct,
        ActorioLocal,
        ActorioMailbox,
        ActorioProcess,
        ActorioRay,
        Pipe,
        Memcpy,
        Ray,
        Pykka,
        Xoscar,
    )
}

#: Every row is compared with the best of these, measured in the same run on the same loop.
BASELINES = ("bare", "bare-deque")
