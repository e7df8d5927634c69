"""The benchmark suite, run for real with tiny sizes: it must not rot between full runs.

Each run is ``python -m benchmarks`` in a subprocess, exactly as a developer runs it, with
children of its own; the checks read the JSON record it writes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
INSTALL_HINT = "skipped (not installed: pip install -e '.[bench]')"


def _bench(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / "bench.json"
    argv = [sys.executable, "-m", "benchmarks", "--json", str(out)]
    argv += ["--chart", str(tmp_path / "bench.png"), *args]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(out.read_text())


def _rows(record: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["workload"], r["system"], r["loop"]): r for r in record["results"]}


@pytest.mark.timeout(120)
def test_a_tiny_run_measures_compares_and_judges(tmp_path: Path) -> None:
    done, record = _bench(
        tmp_path,
        "--systems", "bare,bare-deque,actorio-local,pykka",
        "--workloads", "pingpong,sync_bridge,blocking_actors,memory",
        "--loops", "asyncio",
        "-n", "400",
        "--repeat", "2",
        "--memory-actors", "2000",
        "--hide-modules", "pykka",
    )  # fmt: skip
    rows = _rows(record)
    ping = rows[("pingpong", "actorio-local", "asyncio")]
    assert ping["status"] == "ok"
    assert len(ping["samples"]) == 2  # one child per repeat
    assert set(ping["median"]) == {"mean_us", "p50_us", "p99_us"}
    assert ping["median"]["mean_us"] > 0
    assert ping["baseline"] in ("bare (asyncio)", "bare-deque (asyncio)")
    assert ping["ratio"] > 0
    bares = [rows[("pingpong", b, "asyncio")]["median"]["mean_us"] for b in ("bare", "bare-deque")]
    best = min(bares)
    assert ping["ratio"] == pytest.approx(ping["median"]["mean_us"] / best)
    memory = rows[("memory", "actorio-local", "asyncio")]
    assert memory["info"]["actors"] == 2000
    assert memory["median"]["per_actor_bytes"] > memory["median"]["user_object_bytes"] >= 0
    assert rows[("sync_bridge", "bare", "asyncio")]["median"]["mean_us"] > 0
    # Plain sync code, no loop: one row per system whatever the loop; a thread per actor is
    # the baseline, so 50 calls sleeping 0.2 s take about 0.2 s there (generous slack).
    bare_sleep = rows[("blocking_actors", "bare", "-")]
    assert 0.2 <= bare_sleep["median"]["wall_s"] < 2.0
    assert bare_sleep["info"]["actors"] == 50
    assert 1 <= bare_sleep["info"]["rounds"] <= 5  # up to 5, fewer once 3 s are spent
    assert rows[("blocking_actors", "bare-deque", "-")]["status"].startswith("n/a (")
    local_sleep = rows[("blocking_actors", "actorio-local", "-")]
    assert local_sleep["status"] == "ok"
    assert local_sleep["baseline"] == "bare (-)"
    assert local_sleep["median"]["vs_ideal"] == pytest.approx(local_sleep["median"]["wall_s"] / 0.2)
    # A peer whose module is missing is reported, not dropped, in the JSON and in the table.
    for workload in ("pingpong", "sync_bridge", "blocking_actors", "memory"):
        assert rows[(workload, "pykka", "-")]["status"] == INSTALL_HINT
    assert f"pykka: {INSTALL_HINT}" in done.stdout
    targets = {(t["target"], t["loop"]): t for t in record["targets"]}
    ping_target = targets[("pingpong mean within 1.25x of the best bare", "asyncio")]
    assert ping_target["result"] in ("PASS", "MISS")
    assert ping_target["ratio"] == pytest.approx(ping["ratio"])
    sleep_target = targets[("blocking_actors (50 actors) <= 1.5x the ideal 0.2 s", "-")]
    assert sleep_target["ratio"] == pytest.approx(local_sleep["median"]["wall_s"] / 0.2)
    assert sleep_target["result"] in ("PASS", "MISS")
    ray_target = targets[("Ray's call (pingpong) >= 100x actorio-local's", "asyncio")]
    assert ray_target["result"].startswith("not measured")
    assert record["machine"]["cores"] >= 1
    assert record["machine"]["packages"]["actorio"]
    assert record["config"]["n"] == 400
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:  # pragma: no cover - matplotlib is in the test extra
        assert "chart skipped" in done.stdout


def test_quick_leaves_fifty_worker_processes_out_and_says_why(tmp_path: Path) -> None:
    """blocking_actors on backend="process" starts 50 workers: a full run measures it, a quick
    run does not (and starts no child for it)."""
    done, record = _bench(
        tmp_path, "--quick", "--systems", "actorio-process,direct", "--workloads", "blocking_actors"
    )
    rows = _rows(record)
    assert rows[("blocking_actors", "actorio-process", "-")]["status"] == (
        "skipped (quick run: 50 worker processes take seconds to start)"
    )
    assert rows[("blocking_actors", "direct", "-")]["status"].startswith("n/a (no actor")
    assert "[1/2]" not in done.stderr  # nothing was run


def test_quick_leaves_peers_out_and_says_why(tmp_path: Path) -> None:
    """Nothing here is measured: every row is settled before any child would start."""
    done, record = _bench(
        tmp_path, "--quick", "--systems", "direct,ray,pykka,xoscar", "--workloads", "pipelined"
    )
    rows = _rows(record)
    assert rows[("pipelined", "ray", "-")]["status"] == "skipped (quick run)"
    assert rows[("pipelined", "xoscar", "uvloop")]["status"] == "skipped (quick run)"
    assert rows[("pipelined", "direct", "asyncio")]["status"].startswith("n/a (")
    assert "ray: skipped (quick run)" in done.stdout
    assert record["config"]["memory_actors"] == 10_000


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs Ray (the ray extra)")
def test_a_system_that_fails_to_start_is_an_error_and_exit_1(tmp_path: Path) -> None:
    """Ray pointed at a cluster that is not there: every repeat fails, the run says so."""
    out = tmp_path / "bench.json"
    argv = [sys.executable, "-m", "benchmarks", "--json", str(out), "--chart", str(tmp_path / "c")]
    argv += ["--systems", "ray", "--workloads", "pingpong", "--repeat", "2", "-n", "200"]
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:1"}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout[-2000:]
    row = _rows(json.loads(out.read_text()))[("pingpong", "ray", "-")]
    assert row["status"].startswith("error: repeat 2: could not start: ")
    assert len(row["errors"]) == 2  # tried again in the second repeat
    assert "Traceback" in (tmp_path / "bench.errors.log").read_text()


def test_touch_reads_one_element_of_every_page() -> None:
    """bulk_data's readers: every page read (a lazily mapped buffer pays for all of it), yet
    only one element in each, so the time is the transfer's."""
    import mmap

    import numpy as np

    from benchmarks._users import touch

    per_page = mmap.PAGESIZE // 8
    marked = np.zeros(10 * per_page + 3)
    marked[::per_page] = 1.0
    assert touch(marked) == 11.0  # ten full pages and the start of an eleventh
    marked[::per_page] = 0.0
    marked[1::per_page] = 1.0
    assert touch(marked) == 0.0  # the other elements are not read
    assert touch(np.ones(128)) == 1.0  # the 1 KiB array: one page


_BULK = {
    "arg_s": "one call taking the array",
    "put4_s": "put + 4 actors reading it",
    "ret_s": "one call returning an array",
}


def test_bulk_data_moves_the_array_and_is_judged_against_the_floor(tmp_path: Path) -> None:
    """The quick run's bulk_data on worker processes next to its memcpy floor, on a 1 MiB
    array (each child checks that every call read every page, or fails the run)."""
    done, record = _bench(
        tmp_path,
        "--quick",
        "--systems", "bare,actorio-process,memcpy,ray",
        "--workloads", "bulk_data",
        "--bulk-n", "131072",
    )  # fmt: skip
    rows = _rows(record)
    proc = rows[("bulk_data", "actorio-process", "-")]
    assert proc["status"] == "ok"
    assert len(proc["samples"]) == 2  # one child per repeat
    assert set(proc["median"]) == {"arg_s", "put4_s", "ret_s", "small_s"}
    assert min(proc["median"].values()) > 0
    assert proc["info"] == {
        "n": 131072,
        "bytes": 2**20,
        "actors": 4,
        "rounds": 3,
        "small_calls": 500,
    }
    floor = rows[("bulk_data", "memcpy", "-")]
    assert set(floor["median"]) == {"arg_s", "prealloc_s"}
    assert floor["info"] == {"n": 131072, "bytes": 2**20, "rounds": 3}
    assert rows[("bulk_data", "bare", "-")]["status"] == (
        "n/a (in-process: an argument is passed by reference, nothing is copied)"
    )
    assert rows[("bulk_data", "ray", "-")]["status"] == "skipped (quick run)"
    assert "1 KiB call" in done.stdout
    assert "into a preallocated buffer" in done.stdout
    targets = {t["target"]: t for t in record["targets"]}
    for key, what in _BULK.items():
        vs_floor = targets[f"actorio-process bulk_data: {what} <= 3x one fresh memcpy"]
        assert vs_floor["ratio"] == pytest.approx(proc["median"][key] / floor["median"]["arg_s"])
        assert vs_floor["result"] == ("PASS" if vs_floor["ratio"] <= 3 else "MISS")
        vs_ray = targets[f"actorio-process bulk_data: {what} <= 1.0x Ray's"]
        assert vs_ray["measured"] == pytest.approx(proc["median"][key])
        assert vs_ray["result"] == "not measured: skipped (quick run)"


def test_bulk_data_without_numpy_is_skipped_and_says_what_to_install(tmp_path: Path) -> None:
    done, record = _bench(
        tmp_path,
        "--quick",
        "--systems", "actorio-process,memcpy",
        "--workloads", "bulk_data",
        "--hide-modules", "numpy",
    )  # fmt: skip
    rows = _rows(record)
    assert rows[("bulk_data", "actorio-process", "-")]["status"] == INSTALL_HINT
    assert rows[("bulk_data", "memcpy", "-")]["status"] == INSTALL_HINT
    assert "[1/2]" not in done.stderr  # nothing was run
