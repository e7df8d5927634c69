"""Every example runs as a real script and prints exactly what its docstring promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SEED_OUTPUT = {
    "counter_actor.py": ["init_value=0, after_increment_value=1"],
    "counter_actor_init_100.py": ["init_value=100, after_increment_value=101"],
    "increment_in_task.py": ["count=10"],
    "named_counter.py": ["counter_origin_value=1", "counter_from_namespace_value=2"],
}

NATIVE_OUTPUT = {
    **SEED_OUTPUT,
    "async_counter.py": [
        "init_value=100",
        "first=101, last=1100, in_order=True",
        "final=1100",
    ],
    "async_actor.py": [
        "max_concurrency=10: 10 pages, peak=10, fast=True",
        "max_concurrency=2: 10 pages, peak=2, fast=False",
    ],
    "threaded_actor.py": ["saved=8, threads=4", "parallel=True"],
    "coordinator.py": [
        "crawler-0 fetched /page/0",
        "crawler-1 fetched /page/1",
        "crawler-2 fetched /page/2",
        "crawler-3 fetched /page/3",
        "side by side: True",
    ],
    "lifecycle.py": [
        "ada GET /a #1",
        "ada GET /b #1",
        "dead: ActorDiedError: killed=True",
        "events: open ada; close ada after 1 requests; open ada; close ada after 1 requests",
    ],
    "supervisor.py": [
        "db up after 3 attempt(s)",
        "cache up after 1 attempt(s)",
        "stopped: True",
    ],
    "process_actors.py": [
        "two workers, neither is the driver: True",
        "same results: True",
        "b unaffected: True",
        "a restarted in a new process: True",
    ],
    "actor_pool.py": [
        "map: [1, 4, 9, 16]",
        "map_unordered, sorted: [1, 4, 9, 16]",
        "get_next: 25 has_next: False",
        "map_async: [1, 4, 9, 16]",
        "get_next_async: 36",
        "on the loop: ActorPool.get_next() would block the event loop running in this thread",
    ],
    "queue_demo.py": [
        "produced 5",
        "consumed: ['job-0', 'job-1', 'job-2', 'job-3', 'job-4']",
        "full at 2 items",
        "batch: ['x', 'y']",
        "empty after waiting 0.05 s",
    ],
    "typed_handles.py": ["took 2 apples: True", "apples left: 3", "apple=3", "pear=1"],
    "streaming.py": [
        "chunk: ['line 0', 'line 1', 'line 2', 'line 3']",
        "chunk: ['line 4', 'line 5', 'line 6', 'line 7']",
        "chunk: ['line 8', 'line 9']",
        "chunks read: 8",
        "got event 3",
        "follow: producer closed",
    ],
    "cancel_and_backpressure.py": [
        "cancelled: /slow",
        "timed out: /hang",
        "mailbox full: remote() refused /p4",
        "['fetched /p0', 'fetched /p1', 'fetched /p2', 'fetched /p3', 'fetched /p4']",
        "cancellations seen inside the actor: 1",
    ],
}


def run_script(path: Path, backend: str = "local") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "dev", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "ACTORIO_BACKEND": backend},
    )
    # Dev mode's asyncio debug reports any callback slower than 0.1 s: on a loaded machine
    # that is the scheduler, not the example (speed is the benchmarks' to judge).
    proc.stderr = re.sub(_SLOW_CALLBACK, "", proc.stderr)
    return proc


_SLOW_CALLBACK = re.compile(r"^Executing <.*> took \d+\.\d+ seconds\n", re.MULTILINE)


def check_output(proc: subprocess.CompletedProcess[str], expected: list[str]) -> None:
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == expected
    # No "Task was destroyed but it is pending", "never awaited" or any other warning.
    assert proc.stderr == ""


#: examples that serve HTTP until stopped, exercised as servers by these test files
SERVED = {
    "dashboard_demo.py": "test_browser.py",
    "web/fastapi_app.py": "test_web.py",
    "web/starlette_app.py": "test_web.py",
    "web/flask_app.py": "test_web.py",
}


def test_every_example_is_covered() -> None:
    served = {n for n in SERVED if "/" not in n}
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(NATIVE_OUTPUT) | served
    assert {p.name for p in (EXAMPLES / "ray_seed").glob("*.py")} == set(SEED_OUTPUT)
    web = {f"web/{p.name}" for p in (EXAMPLES / "web").glob("*.py")}
    assert web == {n for n in SERVED if n.startswith("web/")}
    tests = Path(__file__).parent
    for name, test_file in SERVED.items():
        assert f'"examples/{name}"' in (tests / test_file).read_text(), name


@pytest.mark.parametrize("name", sorted(NATIVE_OUTPUT))
def test_native_example(name: str) -> None:
    check_output(run_script(EXAMPLES / name), NATIVE_OUTPUT[name])


@pytest.mark.parametrize("name", sorted(SEED_OUTPUT))
def test_ray_spelling_runs_unchanged(name: str) -> None:
    source = (EXAMPLES / "ray_seed" / name).read_text()
    assert source.splitlines()[0] == "import actorio as ray"  # the only line that changed
    check_output(run_script(EXAMPLES / "ray_seed" / name), SEED_OUTPUT[name])


@pytest.mark.parametrize("name", sorted(SEED_OUTPUT))
def test_ray_spelling_runs_on_worker_processes(name: str) -> None:
    """ACTORIO_BACKEND=process: every actor in its own process, the task in a task host."""
    proc = run_script(EXAMPLES / "ray_seed" / name, backend="process")
    check_output(proc, SEED_OUTPUT[name])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_increment_in_task_prints_ten_every_time() -> None:
    """Real Ray orders calls only per caller and prints count=0 now and then; we must not."""
    script = EXAMPLES / "ray_seed" / "increment_in_task.py"
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: run_script(script), range(100)))
    outputs = [(p.returncode, p.stdout, p.stderr) for p in runs]
    assert outputs == [(0, "count=10\n", "")] * 100
