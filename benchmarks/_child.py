"""One child process: one system, one loop kind, some workloads; one JSON line on stdout.

``python -m benchmarks._child --system actorio-local --loop uvloop --workloads pingpong,n_n
<config flags>``. A fresh process per system keeps systems from sharing a heap, a collector,
threads or a Ray instance. Anything the system prints goes to stderr; the result is the one
stdout line that starts with :data:`MARK`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import traceback
from typing import Any

from . import _bulk, _calls, _memory, _startup, _web
from ._calls import Result
from ._config import Config, loop_factory
from .systems import SYSTEMS, AsyncSystem, SyncSystem, System

__all__ = ["MARK", "run"]

MARK = "actorio-bench-result "


def _run_async(system: AsyncSystem, workload: str, config: Config) -> Result:
    async def body() -> Result:
        try:
            if workload == "memory":
                return await _memory.memory_async(system, config)
            result: Result = await _calls.ASYNC[workload](system, config)
            return result
        finally:
            await system.settle()

    with asyncio.Runner(loop_factory=system.loop_factory) as runner:
        return runner.run(body())


def _run_one(system: System, workload: str, config: Config) -> Result:
    try:
        if workload == "sync_bridge":
            return _calls.sync_bridge(system, config)
        if workload == "blocking_actors":
            return _calls.blocking_actors(system, config)
        if workload == "bulk_data":
            return _bulk.measure(system, config)
        if workload == "web_endpoint":
            return _web.measure(system, config)
        if isinstance(system, AsyncSystem):
            return _run_async(system, workload, config)
        assert isinstance(system, SyncSystem)
        if workload == "memory":
            return _memory.memory_sync(system, config)
        return _calls.SYNC[workload](system, config)
    finally:
        system.after()


def _error(exc: BaseException, where: str = "") -> dict[str, str]:
    traceback.print_exc()
    return {"error": f"{where}{type(exc).__name__}: {str(exc)[:500]}"}


def run(name: str, loop: str, workloads: list[str], config: Config) -> dict[str, Any]:
    """Every workload in turn; a failing one is reported and the others still run. A system
    that fails to start fails every workload with that cause."""
    if workloads == ["startup"]:  # a whole program of its own: no system to start here
        try:
            values, info = _startup.measure(name)
            results: dict[str, Any] = {"startup": {"values": values, "info": info}}
        except Exception as exc:
            results = {"startup": _error(exc)}
        return {"system": name, "loop": loop, "pid": os.getpid(), "results": results}
    system = SYSTEMS[name](loop_factory(loop))
    try:
        system.open()
    except Exception as exc:
        failed = _error(exc, "could not start: ")
        return {"system": name, "loop": loop, "results": dict.fromkeys(workloads, failed)}
    results = {}
    try:
        for workload in workloads:
            try:
                values, info = _run_one(system, workload, config)
                results[workload] = {"values": values, "info": info}
            except Exception as exc:
                results[workload] = _error(exc)
    finally:
        system.close()
    return {"system": name, "loop": loop, "pid": os.getpid(), "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._child")
    parser.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    parser.add_argument("--loop", required=True)
    parser.add_argument("--workloads", required=True)
    Config.add_arguments(parser)
    args = parser.parse_args()
    config = Config.from_args(args)
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the result line
        record = run(args.system, args.loop, args.workloads.split(","), config)
    print(MARK + json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
