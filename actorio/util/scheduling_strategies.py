"""Ray's scheduling strategies, as ``ray.util.scheduling_strategies`` has them.

Pass one as ``scheduling_strategy=`` to ``@actorio.remote`` or ``.options()`` (the strings
``"DEFAULT"`` and ``"SPREAD"`` work too). In-process and on worker processes they are checked
and ignored (one machine, nothing to place); with ``backend="ray"`` each becomes Ray's own.
"""

from __future__ import annotations

from .._scheduling import (
    DoesNotExist,
    Exists,
    In,
    NodeAffinitySchedulingStrategy,
    NodeLabelSchedulingStrategy,
    NotIn,
    PlacementGroupSchedulingStrategy,
)

__all__ = [
    "DoesNotExist",
    "Exists",
    "In",
    "NodeAffinitySchedulingStrategy",
    "NodeLabelSchedulingStrategy",
    "NotIn",
    "PlacementGroupSchedulingStrategy",
]
