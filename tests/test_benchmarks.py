"""The benchmark suite, run for real with tiny sizes: it must not rot between full runs.

Each run is ``python -m benchmarks`` in a subprocess, exactly as a developer runs it, with
children of its own; the checks read the JSON record it writes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from benchmarks._config import QUICK
from benchmarks._harness import NO_LOOP, Job, Plan, Row, job_order, summarize
from benchmarks._targets import judge

ROOT = Path(__file__).parent.parent
INSTALL_HINT = "skipped (not installed: pip install -e '.[bench]')"


def _bench(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / "bench.json"
    argv = [sys.executable, "-m", "benchmarks", "--json", str(out)]
    argv += ["--chart", str(tmp_path / "bench.png"), *args]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
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
    assert ping["repeats"] == [1, 2]
    bares = [rows[("pingpong", b, "asyncio")] for b in ("bare", "bare-deque")]
    best = min(bares, key=lambda b: b["median"]["mean_us"])  # chosen by median
    assert ping["baseline"] == f"{best['system']} (asyncio)"
    assert best["repeats"] == [1, 2]
    samples = zip(ping["samples"], best["samples"], strict=True)
    paired = [s["mean_us"] / b["mean_us"] for s, b in samples]
    assert ping["ratio"] == pytest.approx(sum(paired) / 2)  # the median of two
    assert ping["ratio_spread"] == pytest.approx(abs(paired[0] - paired[1]) / ping["ratio"])
    assert (best["ratio"], best["ratio_spread"]) == (1.0, 0.0)
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
    assert ping_target["spread"] == pytest.approx(ping["ratio_spread"])
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


def _plan(rows: list[Row], jobs: list[Job] | None = None, main: str = "asyncio") -> Plan:
    loops = ("asyncio", "uvloop") if main == "uvloop" else ("asyncio",)
    return Plan(QUICK, loops, main, rows, jobs or [])


def _row(workload: str, system: str, loop: str, metric: str, by_repeat: dict[int, float]) -> Row:
    """A row as a run leaves it: one sample per repeat that measured it."""
    row = Row(workload, system, loop)
    row.repeats = list(by_repeat)
    row.samples = [{metric: v} for v in by_repeat.values()]
    return row


def test_a_ratio_is_the_median_of_the_per_repeat_ratios_to_the_best_bare() -> None:
    """Each repeat's sample over the best bare's sample of that repeat (the best chosen by
    median); repeats one side lacks are left out; no-loop rows pair with the main loop."""
    rows = [
        _row("pingpong", "bare", "asyncio", "mean_us", {1: 10, 2: 20, 3: 12}),
        _row("pingpong", "bare-deque", "asyncio", "mean_us", {1: 8, 2: 30, 3: 9}),  # best: 9
        _row("pingpong", "actorio-local", "asyncio", "mean_us", {1: 12, 2: 24, 3: 9.9}),
        _row("pingpong", "direct", "asyncio", "mean_us", {1: 8, 3: 18}),  # repeat 2 failed
        _row("pingpong", "pykka", NO_LOOP, "mean_us", {2: 60, 3: 18}),
        _row("pipelined", "bare", "asyncio", "calls_per_s", {1: 100, 2: 100, 3: 100}),
        _row("pipelined", "bare-deque", "asyncio", "calls_per_s", {1: 200, 3: 400}),  # best
        _row("pipelined", "actorio-local", "asyncio", "calls_per_s", {1: 100, 2: 999, 3: 300}),
        _row("n_n", "bare", "asyncio", "calls_per_s", {1: 100}),
        _row("n_n", "actorio-local", "asyncio", "calls_per_s", {2: 100}),  # no repeat in common
    ]
    summarize(_plan(rows))
    got = {(r.workload, r.system): (r.ratio, r.ratio_spread) for r in rows}
    approx = pytest.approx
    assert got[("pingpong", "bare-deque")] == (1.0, 0.0)
    # 10/8, 20/30, 12/9: the median is 1.25, not 12/9 (the ratio of the medians).
    assert got[("pingpong", "bare")] == approx((1.25, (4 / 3 - 2 / 3) / 1.25))
    # 1.5, 0.8, 1.1 (the ratio of the medians would be 12/9).
    assert got[("pingpong", "actorio-local")] == approx((1.1, 0.7 / 1.1))
    assert got[("pingpong", "direct")] == approx((1.5, 1 / 1.5))  # 8/8, 18/9
    assert got[("pingpong", "pykka")] == approx((2.0, 0.0))  # 60/30, 18/9
    # Higher is better: the best bare has the highest median; its repeat 2 is missing.
    assert got[("pipelined", "bare")] == approx((0.375, 0.25 / 0.375))
    assert got[("pipelined", "actorio-local")] == approx((0.625, 0.25 / 0.625))
    assert got[("n_n", "actorio-local")] == (None, None)
    assert {r.baseline for r in rows if r.workload != "n_n"} == {"bare-deque (asyncio)"}
    assert [r.baseline for r in rows if r.workload == "n_n"] == ["bare (asyncio)", None]
    assert rows[2].median == {"mean_us": 12}  # the value shown is still the median
    assert rows[2].spread == approx((24 - 9.9) / 12)


_CALLS = ("pingpong", "n_n")


def test_each_repeat_runs_a_loops_baselines_and_systems_back_to_back() -> None:
    """Per loop and workload group: the baselines, then the others; the mirror image in the
    next repeat; the systems that start Ray after every block."""
    jobs: list[Job] = [
        ("bare", "asyncio", _CALLS),
        ("bare", "asyncio", ("memory",)),
        ("bare", "uvloop", _CALLS),
        ("bare-deque", "asyncio", _CALLS),
        ("bare-deque", "uvloop", _CALLS),
        ("actorio-local", "asyncio", _CALLS),
        ("actorio-local", "asyncio", ("memory",)),
        ("actorio-local", "uvloop", _CALLS),
        ("actorio-process", "uvloop", _CALLS),
        ("actorio-ray", "uvloop", _CALLS),
        ("pykka", NO_LOOP, _CALLS),  # no loop: with the main loop's baselines
        ("ray", NO_LOOP, _CALLS),
    ]
    plan = _plan([], jobs, main="uvloop")
    asyncio_calls = [jobs[0], jobs[3], jobs[5]]
    asyncio_memory = [jobs[1], jobs[6]]
    uvloop_calls = [jobs[2], jobs[4], jobs[7], jobs[8], jobs[10]]
    assert job_order(plan, 0) == [
        *asyncio_calls,
        *asyncio_memory,
        *uvloop_calls,
        jobs[9],
        jobs[11],
    ]
    # The blocks rotate and each runs backwards: the baselines last, each job as far from
    # them as before.
    assert job_order(plan, 1) == [
        *asyncio_memory[::-1],
        *uvloop_calls[::-1],
        *asyncio_calls[::-1],
        jobs[11],
        jobs[9],
    ]
    # Every second repeat, each side rotates: other jobs sit next to the other side.
    bare, deque, local, process, pykka = uvloop_calls
    assert job_order(plan, 2)[:5] == [deque, bare, process, pykka, local]  # block 3 first
    for r in range(6):
        order = job_order(plan, r)
        assert sorted(order) == sorted(jobs)  # each job once: the run takes as long as before
        for block in (asyncio_calls, asyncio_memory, uvloop_calls):
            at = sorted(order.index(job) for job in block)
            assert at == list(range(at[0], at[0] + len(block)))  # back to back
            sides = ["bare" in order[i][0] for i in at]
            assert sides == sorted(sides, reverse=r % 2 == 0)  # baselines first, then last


def test_the_memory_workload_reports_the_cost_after_one_call_each(tmp_path: Path) -> None:
    done, record = _bench(
        tmp_path,
        "--systems", "actorio-local",
        "--workloads", "memory",
        "--loops", "asyncio",
        "--repeat", "1",
        "--memory-actors", "1000",
    )  # fmt: skip
    row = _rows(record)[("memory", "actorio-local", "asyncio")]
    assert row["status"] == "ok"
    assert row["info"] == {"actors": 1000, "scope": "process"}
    m = row["median"]
    assert set(m) == {"beyond_bytes", "per_actor_bytes", "user_object_bytes", "used_beyond_bytes"}
    assert m["beyond_bytes"] == pytest.approx(m["per_actor_bytes"] - m["user_object_bytes"])
    assert m["beyond_bytes"] > 0
    assert m["used_beyond_bytes"] > 0  # each actor answered inc(1) with 1, or the run failed
    assert "after one call each" in done.stdout
    targets = {t["target"]: t for t in record["targets"]}
    used = targets["memory after one call each <= 1536 B/actor beyond the user object"]
    assert used["measured"] == pytest.approx(m["used_beyond_bytes"])
    assert used["ratio"] == pytest.approx(m["used_beyond_bytes"] / 1536)
    never = targets["memory <= 1536 B/idle actor beyond the user object"]
    assert never["measured"] == pytest.approx(m["beyond_bytes"])


def test_the_targets_judge_memory_after_use_and_the_paired_ratio() -> None:
    memory = [Row("memory", "actorio-local", loop) for loop in ("asyncio", "uvloop")]
    for row, used in zip(memory, (3072.0, 1024.0), strict=True):
        row.samples, row.repeats = [{"beyond_bytes": 768.0, "used_beyond_bytes": used}], [1]
    rows = [
        *memory,
        _row("pingpong", "bare-deque", "asyncio", "mean_us", {1: 8, 2: 30, 3: 9}),
        _row("pingpong", "actorio-local", "asyncio", "mean_us", {1: 12, 2: 24, 3: 9.9}),
    ]
    plan = _plan(rows, main="uvloop")
    summarize(plan)
    verdicts = {(v.target, v.loop): v for v in judge(plan)}
    after = "memory after one call each <= 1536 B/actor beyond the user object"
    missed, met = verdicts[(after, "asyncio")], verdicts[(after, "uvloop")]
    assert (missed.measured, missed.ratio, missed.result) == (3072.0, 2.0, "MISS")
    assert (met.measured, met.result) == (1024.0, "PASS")
    assert met.ratio == pytest.approx(2 / 3)
    never = verdicts[("memory <= 1536 B/idle actor beyond the user object", "asyncio")]
    assert (never.measured, never.ratio, never.result) == (768.0, 0.5, "PASS")
    # Paired: 1.1 (within 1.25x); the ratio of the medians, 12 / 9, would miss.
    ping = verdicts[("pingpong mean within 1.25x of the best bare", "asyncio")]
    assert (ping.ratio, ping.spread) == pytest.approx((1.1, 0.7 / 1.1))
    assert ping.result == "PASS"


# -- web_endpoint ------------------------------------------------------------------------------

_WEB_TARGET = "web_endpoint: through an actor >= 0.97x plain's requests/s"


def _wrk() -> None:
    """Skip without wrk, unless ``ACTORIO_REQUIRE_WRK=1`` (set by CI) makes that a failure."""
    if shutil.which("wrk") is None:
        if os.environ.get("ACTORIO_REQUIRE_WRK") == "1":
            pytest.fail("wrk is not on PATH: apt-get install wrk")
        pytest.skip("wrk is not on PATH (apt-get install wrk)")


@pytest.mark.timeout(120)
def test_web_endpoint_serves_every_request_three_ways_under_wrk(tmp_path: Path) -> None:
    """The quick run's web_endpoint, one repeat: a real uvicorn on uvloop under wrk (the child
    fails unless every counter equals the requests wrk wrote to its route)."""
    _wrk()
    done, record = _bench(
        tmp_path,
        "--quick",
        "--systems", "bare,actorio-local",
        "--workloads", "web_endpoint",
        "--repeat", "1",
    )  # fmt: skip
    rows = _rows(record)
    web = rows[("web_endpoint", "actorio-local", "-")]
    assert web["status"] == "ok", web
    assert len(web["samples"]) == 1
    routes = ("plain", "sleep0", "actor")
    stats = {f"{r}_{k}" for r in routes for k in ("rps", "p50_us", "p99_us")}
    assert set(web["median"]) == {"actor_vs_plain", "sleep0_vs_plain", *stats}
    for route in routes:
        assert web["median"][f"{route}_rps"] > 0
        assert 0 < web["median"][f"{route}_p50_us"] <= web["median"][f"{route}_p99_us"]
        # A warm-up second and 3 rounds of 1 s: thousands of requests, each one counted.
        assert web["info"]["requests"][route] > 100
    assert web["median"]["actor_vs_plain"] > 0
    info = {k: v for k, v in web["info"].items() if k not in ("requests", "server", "wrk")}
    assert info == {"rounds": 3, "seconds": 1, "threads": 1, "connections": 32}
    assert web["info"]["server"].startswith("uvicorn ")
    assert record["config"]["web_s"] == 1
    assert rows[("web_endpoint", "bare", "-")]["status"] == (
        "n/a (one row, on actorio-local: one app serves the three endpoints)"
    )
    assert "sleep(0)" in done.stdout
    assert "wrk 1 thread x 32 connections" in done.stdout
    target = {t["target"]: t for t in record["targets"]}[_WEB_TARGET]
    assert target["measured"] == pytest.approx(web["median"]["actor_vs_plain"])
    assert target["ratio"] == pytest.approx(web["median"]["actor_vs_plain"])
    assert target["result"] == ("PASS" if target["ratio"] >= 0.97 else "MISS")


def test_web_endpoint_without_wrk_is_skipped_and_says_so(tmp_path: Path) -> None:
    """wrk not on PATH (an empty PATH here): the row says so and no child is started."""
    env = {**os.environ, "PATH": str(tmp_path)}
    done, record = _bench(
        tmp_path,
        "--quick",
        "--systems",
        "bare,actorio-local",
        "--workloads",
        "web_endpoint",
        env=env,
    )
    rows = _rows(record)
    assert rows[("web_endpoint", "actorio-local", "-")]["status"] == "skipped (wrk not installed)"
    assert rows[("web_endpoint", "bare", "-")]["status"].startswith("n/a (")
    assert "actorio-local: skipped (wrk not installed)" in done.stdout
    target = {t["target"]: t for t in record["targets"]}[_WEB_TARGET]
    assert target["result"] == "not measured: skipped (wrk not installed)"
    assert "[1/2]" not in done.stderr  # nothing was run


# Captured from wrk 4.1.0 (Debian) with benchmarks/_wrk.py's script, on this project's server.
_WRK_REPORT = """\
Running 1s test @ http://127.0.0.1:34173/plain
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.93ms   14.02ms 160.35ms   95.85%
    Req/Sec     1.82k   282.85     2.14k    80.00%
  Latency Distribution
     50%    8.21ms
     75%    8.62ms
     90%   11.37ms
     99%   91.18ms
  3626 requests in 1.00s, 491.24KB read
Requests/sec:   3624.16
Transfer/sec:    490.99KB
Requests written: 3658
"""

# The same server stopped halfway through a run.
_WRK_BROKEN = """\
Running 2s test @ http://127.0.0.1:42905/plain
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.18ms    7.16ms 126.03ms   95.54%
    Req/Sec     3.14k   771.76     3.62k    90.91%
  Latency Distribution
     50%    9.17ms
     75%   10.50ms
     90%   12.36ms
     99%   39.77ms
  3444 requests in 2.01s, 466.42KB read
  Socket errors: connect 0, read 33, write 33274, timeout 0
Requests/sec:   1715.62
Transfer/sec:    232.34KB
Requests written: 36750
"""


def test_wrk_report_is_read_with_its_units() -> None:
    from benchmarks._wrk import parse

    run = parse(_WRK_REPORT)
    # 32 connections, each with one request in flight when time was up: written, unanswered.
    assert (run.answered, run.written, run.seconds) == (3626, 3658, 1.0)
    assert run.requests_per_s == 3624.16
    assert run.p50_us == pytest.approx(8210.0)
    assert run.p99_us == pytest.approx(91180.0)
    assert (run.non_2xx, run.socket_errors) == (0, 0)
    broken = parse(_WRK_BROKEN)
    assert (broken.answered, broken.written, broken.socket_errors) == (3444, 36750, 33307)
    assert broken.seconds == pytest.approx(2.01)
    slower = _WRK_REPORT.replace("50%    8.21ms", "50%  750.00us").replace(
        "99%   91.18ms", "99%    1.25s"
    )
    assert (parse(slower).p50_us, parse(slower).p99_us) == (750.0, 1_250_000.0)
    errors = _WRK_REPORT.replace("Requests/sec", "  Non-2xx or 3xx responses: 17\nRequests/sec")
    assert parse(errors).non_2xx == 17
    with pytest.raises(RuntimeError, match="no 'Requests written' line"):
        parse(_WRK_REPORT.replace("Requests written: 3658\n", ""))
    with pytest.raises(RuntimeError, match="no 99% latency"):
        parse(_WRK_REPORT.replace("     99%   91.18ms\n", ""))


class _NotFound(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk's connections expect

    def do_POST(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def not_found_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/missing"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_wrk_run_fails_loudly_on_error_answers(not_found_url: str) -> None:
    """A run whose answers are errors cannot stand for the server's throughput."""
    _wrk()
    from benchmarks._wrk import run

    with pytest.raises(RuntimeError, match=r"wrk on .*/missing: [1-9]\d* error answers"):
        run(not_found_url, 1, threads=1, connections=2)
