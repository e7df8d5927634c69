"""Actor metrics in the Prometheus text format, for a service's existing ``/metrics``.

Two ways in, same numbers (from ``actorio.util.state``):

- ``prometheus_text()``: the exposition text itself, no dependency (serve it from any route);
- ``register()``: adds a collector to a ``prometheus_client`` registry (the default one unless
  told), so an app already exporting with ``prometheus_client`` picks the actors up.
  ``prometheus_client`` is optional: ``pip install 'actorio[metrics]'``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from .._stats import ActorState
from ..exceptions import MissingDependencyError
from .state import list_actors

__all__ = ["prometheus_text", "register"]

_LABELS = ("actor_id", "class_name", "name", "namespace", "backend")

#: (metric name, kind, help, value of one actor)
_PER_ACTOR: tuple[tuple[str, str, str, Any], ...] = (
    ("actorio_actor_mailbox_depth", "gauge", "Calls waiting in the mailbox.",
     lambda s: s.mailbox_depth),
    ("actorio_actor_calls_running", "gauge", "Calls running now.", lambda s: s.calls_running),
    ("actorio_actor_calls_completed", "counter", "Calls that returned a value.",
     lambda s: s.calls_completed),
    ("actorio_actor_calls_failed", "counter", "Calls that raised or were cancelled.",
     lambda s: s.calls_failed),
    ("actorio_actor_restarts", "counter", "Times the actor was restarted.",
     lambda s: s.restarts),
    ("actorio_actor_latency_mean_seconds", "gauge", "Mean call latency.",
     lambda s: s.latency_mean_ms / 1e3),
    ("actorio_actor_latency_p99_seconds", "gauge", "99th percentile of recent call latency.",
     lambda s: s.latency_p99_ms / 1e3),
)  # fmt: skip

_STATES = ("PENDING_CREATION", "ALIVE", "RESTARTING", "STOPPING", "DEAD")


def _families(states: list[ActorState]) -> Iterator[tuple[str, str, str, list[Any]]]:
    """(name, kind, help, [(labels, value), ...]) for every metric."""
    counts = Counter(s.state for s in states)
    yield (
        "actorio_actors",
        "gauge",
        "Actors of this process by state (dead ones: the latest few).",
        [({"state": st}, counts.get(st, 0)) for st in _STATES],
    )
    live = [s for s in states if s.state != "DEAD"]
    for name, kind, doc, value in _PER_ACTOR:
        yield name, kind, doc, [(_labels(s), value(s)) for s in live]


def _labels(state: ActorState) -> dict[str, str]:
    return {k: str(getattr(state, k) or "") for k in _LABELS}


def prometheus_text() -> str:
    """Every live actor's metrics, in the Prometheus text exposition format (version 0.0.4)."""
    lines = []
    for name, kind, doc, samples in _families(list_actors(limit=1 << 62)):
        full = f"{name}_total" if kind == "counter" else name
        lines.append(f"# HELP {full} {doc}")
        lines.append(f"# TYPE {full} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{full}{{{text}}} {float(value)!r}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Collector:
    """A ``prometheus_client`` collector: a fresh snapshot at every scrape."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for name, kind, doc, samples in _families(list_actors(limit=1 << 62)):
            keys = list(samples[0][0]) if samples else list(_LABELS)
            family_cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = family_cls(name, doc, labels=keys)
            for labels, value in samples:
                family.add_metric([labels[k] for k in keys], float(value))
            yield family


def register(registry: Any = None) -> Any:
    """Export actor metrics through ``prometheus_client`` (its default registry unless one is
    given); returns the collector, for ``registry.unregister``."""
    try:
        from prometheus_client import REGISTRY
    except ImportError:
        raise MissingDependencyError(
            "actorio.util.metrics.register() needs prometheus_client: pip install "
            "'actorio[metrics]' (or serve actorio.util.metrics.prometheus_text() yourself)"
        ) from None
    collector = _Collector()
    (registry if registry is not None else REGISTRY).register(collector)
    return collector
