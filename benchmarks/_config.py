"""The knobs of one run, shared by the harness and its children, and the loop kinds."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

__all__ = ["FULL", "LOOP_KINDS", "QUICK", "Config", "loop_factory", "main_loop"]

LOOP_KINDS = ("asyncio", "uvloop")


@dataclass(frozen=True)
class Config:
    #: Calls per per-call workload (pingpong, pipelined, n_n; sync_bridge makes a fifth).
    n: int
    repeat: int
    warmup: int
    #: Idle actors per memory measurement, for in-process systems.
    memory_actors: int
    #: Length of one cpu_parallel job, calibrated in each child.
    cpu_seconds: float
    #: async_concurrency rounds per child (one round lasts ~10 ms: several, then the median);
    #: also bulk_data's timed rounds (fewer once they have taken their time budget), and
    #: web_endpoint's (each a wrk run per route).
    rounds: int
    #: Elements of bulk_data's float64 array (8 bytes each: 25,000,000 is 200 MB).
    bulk_n: int
    #: Seconds of each timed wrk run of web_endpoint (whole seconds: wrk's unit).
    web_s: int

    def calls(self, cap: int | None) -> int:
        """Calls for a system whose calls are slow enough to need a cap."""
        return self.n if cap is None else min(self.n, cap)

    def to_argv(self) -> list[str]:
        """The same config as command-line flags for a child."""
        argv = []
        for f in fields(self):
            argv += [f"--{f.name.replace('_', '-')}", str(getattr(self, f.name))]
        return argv

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        for f in fields(cls):
            kind = float if f.type in (float, "float") else int
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, required=True)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Config:
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})

    def asdict(self) -> dict[str, object]:
        return asdict(self)


FULL = Config(
    n=100_000,
    repeat=5,
    warmup=2_000,
    memory_actors=100_000,
    cpu_seconds=0.5,
    rounds=5,
    bulk_n=25_000_000,
    web_s=3,
)
QUICK = Config(
    n=5_000,
    repeat=2,
    warmup=500,
    memory_actors=10_000,
    cpu_seconds=0.1,
    rounds=3,
    bulk_n=250_000,
    web_s=1,
)


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for a loop kind, or None when its package is not installed."""
    if kind == "asyncio":
        return asyncio.new_event_loop
    if kind == "uvloop" and importlib.util.find_spec("uvloop") is not None:
        import uvloop

        return uvloop.new_event_loop
    return None


def main_loop(loops: tuple[str, ...]) -> str:
    """The loop that systems measured on one loop only use: uvloop, as actorio.run does."""
    usable = [k for k in loops if loop_factory(k) is not None]
    return "uvloop" if "uvloop" in usable else (usable[0] if usable else "asyncio")
