"""Ray's scheduling strategies (``ray.util.scheduling_strategies``), as plain values.

They are given as ``scheduling_strategy=`` to actors and tasks. In-process and on worker
processes there is one machine and no placement, so they are checked and then ignored, as
``num_cpus`` or ``resources`` are; the Ray backend turns each into Ray's own class.
"""

from __future__ import annotations

from typing import Any

from .exceptions import InvalidOptionsError

__all__ = [
    "STRATEGY_NAMES",
    "DoesNotExist",
    "Exists",
    "In",
    "NodeAffinitySchedulingStrategy",
    "NodeLabelSchedulingStrategy",
    "NotIn",
    "PlacementGroupSchedulingStrategy",
    "check_strategy",
]

#: the strategies Ray names by a string
STRATEGY_NAMES = ("DEFAULT", "SPREAD")


class PlacementGroupSchedulingStrategy:
    """Run in a bundle of a placement group (on Ray; ignored elsewhere)."""

    def __init__(
        self,
        placement_group: Any,
        placement_group_bundle_index: int = -1,
        placement_group_capture_child_tasks: bool | None = None,
    ) -> None:
        self.placement_group = placement_group
        self.placement_group_bundle_index = placement_group_bundle_index
        self.placement_group_capture_child_tasks = placement_group_capture_child_tasks

    def __repr__(self) -> str:
        return (
            f"PlacementGroupSchedulingStrategy({self.placement_group!r}, "
            f"placement_group_bundle_index={self.placement_group_bundle_index})"
        )


class NodeAffinitySchedulingStrategy:
    """Run on the node ``node_id`` (its hex id, ``get_runtime_context().get_node_id()``);
    with ``soft=True`` elsewhere if that node is gone or cannot run it (on Ray; ignored
    elsewhere, where there is one node)."""

    def __init__(
        self,
        node_id: Any,
        soft: bool,
        _spill_on_unavailable: bool = False,
        _fail_on_unavailable: bool = False,
    ) -> None:
        self.node_id: str = node_id if isinstance(node_id, str) else node_id.hex()
        self.soft = soft
        self._spill_on_unavailable = _spill_on_unavailable
        self._fail_on_unavailable = _fail_on_unavailable
        if _spill_on_unavailable and not soft:
            raise InvalidOptionsError("_spill_on_unavailable needs soft=True")
        if _fail_on_unavailable and soft:
            raise InvalidOptionsError("_fail_on_unavailable needs soft=False")

    def __repr__(self) -> str:
        return f"NodeAffinitySchedulingStrategy({self.node_id!r}, soft={self.soft})"


class _LabelOperator:
    """A condition on one node label, in a ``NodeLabelSchedulingStrategy``."""

    values: list[str]

    def __init__(self, *values: str) -> None:
        self.values = list(values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.values))})"


class _ValuesOperator(_LabelOperator):
    def __init__(self, *values: str) -> None:
        name = type(self).__name__
        if not values or not all(isinstance(v, str) for v in values):
            raise InvalidOptionsError(
                f"{name}() takes one or more label values, all str, e.g. {name}('a', 'b'); "
                f"got {values!r}"
            )
        super().__init__(*values)


class In(_ValuesOperator):
    """The label has one of these values."""


class NotIn(_ValuesOperator):
    """The label has none of these values (or is absent)."""


class Exists(_LabelOperator):
    """The node has the label, whatever its value."""

    def __init__(self) -> None:
        super().__init__()


class DoesNotExist(_LabelOperator):
    """The node does not have the label."""

    def __init__(self) -> None:
        super().__init__()


LabelConditions = dict[str, _LabelOperator]


class NodeLabelSchedulingStrategy:
    """Run on a node whose labels meet ``hard`` (and preferably ``soft``), e.g.
    ``{"region": In("us"), "gpu": Exists()}`` (on Ray; ignored elsewhere)."""

    def __init__(self, hard: LabelConditions, *, soft: LabelConditions | None = None) -> None:
        self.hard = _conditions(hard, "hard")
        self.soft = _conditions(soft, "soft")
        if not (self.hard or self.soft):
            raise InvalidOptionsError(
                "NodeLabelSchedulingStrategy needs at least one condition in hard or soft"
            )

    def __repr__(self) -> str:
        return f"NodeLabelSchedulingStrategy({self.hard!r}, soft={self.soft!r})"


def _conditions(given: LabelConditions | None, which: str) -> LabelConditions:
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise InvalidOptionsError(f"{which} must be a dict of label -> In/NotIn/Exists/...")
    for key, op in given.items():
        if not isinstance(key, str) or not isinstance(op, _LabelOperator):
            raise InvalidOptionsError(
                f"{which}: {key!r} -> {op!r}: a label (str) must map to In(...), NotIn(...), "
                f"Exists() or DoesNotExist()"
            )
    return dict(given)


_STRATEGIES = (
    PlacementGroupSchedulingStrategy,
    NodeAffinitySchedulingStrategy,
    NodeLabelSchedulingStrategy,
)


def check_strategy(value: Any) -> Any:
    """``value`` if it is a scheduling strategy Ray would take, else InvalidOptionsError."""
    if value is None or value in STRATEGY_NAMES or isinstance(value, _STRATEGIES):
        return value
    cls = type(value)
    if cls.__module__.startswith("ray.") and cls.__name__.endswith("SchedulingStrategy"):
        return value  # Ray's own class: the Ray backend passes it as it is
    raise InvalidOptionsError(
        f"scheduling_strategy must be None, 'DEFAULT', 'SPREAD' or a strategy from "
        f"actorio.util.scheduling_strategies, got {value!r}"
    )
