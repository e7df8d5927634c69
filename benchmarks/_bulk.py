"""bulk_data: a large float64 array to actors in other processes and back, from plain sync code.

Three timings of the array (``config.bulk_n`` elements of 8 bytes: 200 MB in the full run):
``arg_s``, one call taking it (``get(a.total.remote(arr))``); ``put4_s``, one ``put`` of it
and a call on each of 4 actors taking the ref, the put included; ``ret_s``, one call
returning a new one (``get(a.make.remote(n))``), read where it arrives. The readers touch one
element per page (:func:`~benchmarks._users.touch`): every page is mapped and read, but
numpy's summing costs nothing next to the transfer. Then ``small_s``: the mean of calls
taking a 1 KiB array, the path every small argument takes.

One untimed round first (buffers grown, any pool of shared segments warm: a first 200 MB
copy into fresh memory was seen to take 30x the next ones here), then up to ``config.rounds``
timed rounds, the median of each timing; no new round once the timed ones took
``_BUDGET_S`` (a round took ~6 s with the array pickled through the worker's socket).

The ``memcpy`` floor times one ``np.copyto`` instead, into a fresh buffer (``arg_s``: its
page faults count, as they do for any transfer into new memory) and into a preallocated one
(``prealloc_s``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from ._calls import Result, _quiet_gc
from ._config import Config
from ._users import touch
from .systems import BulkCalls, Memcpy, System

__all__ = ["ACTORS", "measure"]

ACTORS = 4  # readers of one put: distinct actors, so each is a process of its own
_SMALL = 128  # float64 elements of the small array: 1 KiB
_BUDGET_S = 30.0
_clock = time.perf_counter


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = _clock()
    out = fn()
    return _clock() - start, out


def _expect(got: Any, expected: Any, what: str) -> None:
    """Fail loudly if a call did not read (or return) the whole array."""
    if got != expected:
        raise RuntimeError(f"bulk_data: {what} gave {got!r}, expected {expected!r}")


def _round(calls: BulkCalls, arr: Any, pages: float) -> dict[str, float]:
    n = len(arr)

    def fetch() -> tuple[Any, float]:
        back = calls.fetch(n)
        return back.shape, touch(back)  # read where it arrived: a lazy mapping pays here

    with _quiet_gc():
        arg_s, got = _timed(lambda: calls.send(arr))
        _expect(got, pages, "the call taking the array")
        put4_s, shared = _timed(lambda: calls.share(arr))
        _expect(shared, [pages] * ACTORS, "the calls taking the put")
        ret_s, seen = _timed(fetch)
        _expect(seen, ((n,), pages), "the call returning an array")
    return {"arg_s": arg_s, "put4_s": put4_s, "ret_s": ret_s}


def _small(calls: BulkCalls, small: Any, count: int) -> float:
    """Mean seconds per call taking the 1 KiB array (after a tenth as many untimed)."""
    for _ in range(count // 10):
        calls.send(small)
    with _quiet_gc():
        start = _clock()
        for _ in range(count):
            last = calls.send(small)
        total = _clock() - start
    _expect(last, touch(small), "the call taking 1 KiB")
    return total / count


def _rounds(run_round: Callable[[], dict[str, float]], config: Config) -> list[dict[str, float]]:
    run_round()  # untimed
    rounds: list[dict[str, float]] = []
    while len(rounds) < config.rounds and sum(sum(r.values()) for r in rounds) < _BUDGET_S:
        rounds.append(run_round())
    return rounds


def _medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}


def _floor(system: Memcpy, config: Config, arr: Any) -> Result:
    dst = system.copy(arr)  # preallocated: its pages mapped by this first copy

    def run_round() -> dict[str, float]:
        with _quiet_gc():
            fresh_s, out = _timed(lambda: system.copy(arr))
            prealloc_s, _ = _timed(lambda: system.copy(arr, dst))
        _expect(touch(out), touch(arr), "the fresh copy")
        return {"arg_s": fresh_s, "prealloc_s": prealloc_s}

    rounds = _rounds(run_round, config)
    info = {"n": len(arr), "bytes": arr.nbytes, "rounds": len(rounds)}
    return _medians(rounds), info


def measure(system: System, config: Config) -> Result:
    import numpy as np

    arr = np.ones(config.bulk_n)
    if isinstance(system, Memcpy):
        return _floor(system, config, arr)
    calls = system.bulk(ACTORS)
    pages = touch(arr)
    rounds = _rounds(lambda: _round(calls, arr, pages), config)
    count = max(config.calls(system.max_calls) // 10, 50)
    values = {**_medians(rounds), "small_s": _small(calls, np.ones(_SMALL), count)}
    info = {"n": len(arr), "bytes": arr.nbytes, "actors": ACTORS, "rounds": len(rounds)}
    return values, {**info, "small_calls": count}
