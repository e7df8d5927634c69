"""Resident memory per idle actor, measured in a child that does nothing else.

Within one child: the resident set after a collection, then after ``n`` plain instances of
the user's class (kept alive), then after ``n`` idle actors of the same class (each one
constructed, never called), then after each of them has served one call and gone idle.
Bytes per actor minus bytes per plain instance is what the system adds, before and after
use. Process-hosted actors count the resident memory of this process and all its
descendants (shared pages count once per process, as ``ps`` shows them).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import time
from pathlib import Path
from typing import Any

from ._calls import Result
from ._config import Config
from ._users import Idle
from .systems import AsyncSystem, SyncSystem, System

__all__ = ["memory_async", "memory_sync", "rss"]

_PAGE = os.sysconf("SC_PAGE_SIZE")
# Actors made (and called once) before the first reading: one-time setup, of actors and of
# the call path, is nobody's per-actor cost.
_WARM = 10
#: how long the actors are left idle after their call before the reading: an idle actor is
#: one that no call reached for a while (actorio gives a lane's deque back after 1 s idle)
_IDLE_S = 1.5


def _rss_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0  # the process ended meanwhile


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _trim() -> None:
    """Give freed heap pages back to the kernel (glibc's ``malloc_trim``), so a reading
    counts what is alive, not what malloc keeps for reuse after a burst of calls freed
    their futures and results. Every system's readings get it alike."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: readings include malloc's free lists
        pass


def rss(scope: str = "process") -> int:
    """Resident bytes of this process, or of it and every process below it."""
    gc.collect()
    _trim()
    if scope == "process":
        return _rss_of(os.getpid())
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += _rss_of(pid)
        todo += _children(pid)
    return total


def _count(system: System, config: Config) -> int:
    return system.memory_actors or config.memory_actors


def _result(system: System, n: int, plain: int, actors: int, used: int) -> Result:
    per_plain = plain / n
    values = {
        "beyond_bytes": actors / n - per_plain,
        "per_actor_bytes": actors / n,
        "user_object_bytes": per_plain,
        "used_beyond_bytes": used / n - per_plain,
    }
    return values, {"actors": n, "scope": system.memory_scope}


def _check_called(results: list[Any], n: int) -> None:
    """Every actor answered its one ``inc(1)`` (its count was 0): the calls really ran."""
    wrong = [r for r in results if r != 1]
    if len(results) != n or wrong:
        found = wrong[0] if wrong else f"{len(results)} results"
        raise RuntimeError(f"memory: one inc(1) on each of {n} actors gave {found!r}")


#: actors called at once after the first reading: as a service reaches its session actors a
#: few at a time, not a hundred thousand futures in one gather, whose freed memory would stay
#: fragmented around the actors' own and count as theirs
_BATCH = 1000


async def _call_each_async(system: AsyncSystem, actors: list[Any]) -> None:
    results: list[Any] = []
    for i in range(0, len(actors), _BATCH):
        results += await system.call_each(actors[i : i + _BATCH])
    _check_called(results, len(actors))


def _call_each_sync(system: SyncSystem, actors: list[Any]) -> None:
    results: list[Any] = []
    for i in range(0, len(actors), _BATCH):
        results += system.call_each(actors[i : i + _BATCH])
    _check_called(results, len(actors))


def _plain(n: int, scope: str) -> tuple[int, list[Idle]]:
    before = rss(scope)
    objects = [Idle() for _ in range(n)]
    return rss(scope) - before, objects


async def _until_built(target: int, limit_s: float = 120.0) -> None:
    """Let the loop run until every actor's constructor has run (they may run lazily)."""
    deadline = time.monotonic() + limit_s
    while Idle.built < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"memory: {Idle.built} of {target} actors constructed")
        await asyncio.sleep(0)


async def memory_async(system: AsyncSystem, config: Config) -> Result:
    n, scope = _count(system, config), system.memory_scope
    in_process = scope == "process"
    built = Idle.built
    warm = await system.idle_actors(_WARM)
    if in_process:
        await _until_built(built + _WARM)
    _check_called(await system.call_each(warm), _WARM)
    plain, objects = _plain(n, scope)
    before, built = rss(scope), Idle.built
    actors = await system.idle_actors(n)
    if in_process:
        await _until_built(built + n)
    grown = rss(scope) - before
    await _call_each_async(system, actors)
    await asyncio.sleep(_IDLE_S)
    used = rss(scope) - before
    del warm, objects, actors
    return _result(system, n, plain, grown, used)


def memory_sync(system: SyncSystem, config: Config) -> Result:
    n, scope = _count(system, config), system.memory_scope
    warm = system.idle_actors(_WARM)
    _check_called(system.call_each(warm), _WARM)
    plain, objects = _plain(n, scope)
    before, built = rss(scope), Idle.built
    actors = system.idle_actors(n)
    if scope == "process" and Idle.built < built + n:
        raise RuntimeError(f"memory: {Idle.built - built} of {n} actors constructed")
    grown = rss(scope) - before
    _call_each_sync(system, actors)
    time.sleep(_IDLE_S)
    used = rss(scope) - before
    del warm, objects, actors
    return _result(system, n, plain, grown, used)
