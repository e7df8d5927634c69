"""Helpers built on the public API, as in ``ray.util``."""

from __future__ import annotations

from typing import Any

from .._runtime import get_runtime
from . import metrics, scheduling_strategies, state
from .actor_pool import ActorPool

__all__ = ["ActorPool", "list_named_actors", "metrics", "scheduling_strategies", "state"]


def list_named_actors(all_namespaces: bool = False) -> list[Any]:
    """Names of live named actors: in the current namespace as ``[name, ...]``, or in every
    namespace as ``[{"name": ..., "namespace": ...}, ...]`` (Ray's shapes)."""
    rt = get_runtime()
    if all_namespaces:
        return [{"name": n, "namespace": ns} for ns, n in rt.registry.names(None)]
    return [n for _, n in rt.registry.names(rt.namespace)]
