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
