"""Ray's ``ray.actor`` names: ``exit_actor`` (Ray's documented spelling), and the classes to
name in type hints (``from actorio.actor import ActorHandle``). The same objects as
``actorio.exit_actor``, ``actorio.ActorHandle`` and the rest."""

from __future__ import annotations

from ._actor import ActorClass
from ._api import exit_actor, method
from ._handle import ActorHandle, ActorMethod

__all__ = ["ActorClass", "ActorHandle", "ActorMethod", "exit_actor", "method"]
