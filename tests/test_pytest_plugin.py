"""actorio's pytest plugin, run for real: each case writes a test file and runs pytest on it in
a fresh interpreter (``runpytest_subprocess``), which loads the plugin through its entry point
as a user's pytest does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
actorio_leak_grace_s = 0.5
"""

ACTORS = """
import asyncio
import subprocess
import sys
import threading

import pytest

import actorio

STOP = threading.Event()
KEPT = []  # a handle kept here outlives its test, and so does its actor


@actorio.remote
class Counter:
    def __init__(self) -> None:
        self.n = 0

    def inc(self) -> int:
        self.n += 1
        return self.n
"""


def run(pytester: pytest.Pytester, tests: str, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(test_user=ACTORS + tests)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args)


def test_a_leaked_actor_fails_its_test_naming_it(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_leaks(actorio_runtime):
    counter = Counter.options(name="leaky").remote()
    assert actorio.get(counter.inc.remote()) == 1
    KEPT.append(counter)

def test_kills(actorio_runtime):
    counter = Counter.remote()
    assert actorio.get(counter.inc.remote()) == 1
    actorio.kill(counter)
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks*",
            "*the test left 1 thing(s) behind:",
            "*- actor Counter name='leaky' id=* (local, ALIVE)",
            "*actorio.kill(handle)*@pytest.mark.actorio(allow_leaks=True)",
        ]
    )
    assert "test_kills" not in result.stdout.str().split("short test summary")[1].split("ERROR")[1]


def test_a_leaked_thread_and_process_fail_naming_them(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_thread(actorio_runtime):
    threading.Thread(target=STOP.wait, name="poller", daemon=True).start()

def test_joined_thread(actorio_runtime):
    thread = threading.Thread(target=lambda: None, name="quick")
    thread.start()
    thread.join()

def test_process(actorio_runtime):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
""",
    )
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_thread*", "*- thread 'poller' (daemon=True, target *wait)"]
    )
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_process*", "*- process pid=*: *python* -c import time*"]
    )


def test_on_worker_processes_a_live_actor_is_named_with_its_pid(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.actorio(backend="process")
def test_leaks(actorio_runtime):
    assert actorio_runtime == "process"
    counter = Counter.remote()
    assert actorio.get(counter.inc.remote()) == 1
    assert actorio.util.state.list_actors()[0].pid != 0
    KEPT.append(counter)

@pytest.mark.actorio(backend="process")
def test_kills(actorio_runtime):
    counter = Counter.remote()
    assert actorio.get(counter.inc.remote()) == 1
    actorio.kill(counter)
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    # The worker process itself ends with the runtime: only the actor is reported.
    result.stdout.fnmatch_lines(
        ["*the test left 1 thing(s) behind:", "*actor Counter id=* (process, ALIVE pid=*)"]
    )


def test_async_tests_and_actors_on_the_tests_loop(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
async def test_clean(actorio_runtime):
    counter = Counter.remote()
    assert await asyncio.gather(*(counter.inc.remote() for _ in range(3))) == [1, 2, 3]
    actorio.kill(counter)

async def test_leaks(actorio_runtime):
    counter = Counter.options(name="on-loop").remote()
    assert await counter.inc.remote() == 1
    KEPT.append(counter)
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_leaks*", "*actor Counter name='on-loop'*"]
    )


def test_a_logged_traceback_does_not_make_a_leak(pytester: pytest.Pytester) -> None:
    """A stop hook that raises is logged with its traceback, which pytest keeps until the test
    is over: its frames (the test's, with the handle) must not count as a leak, and the
    record keeps its text for a test that reads it."""
    result = run(
        pytester,
        """
import logging

@actorio.remote(max_restarts=1)
class Messy:
    def __actorio_stop__(self):
        raise OSError("disk gone")

    def ping(self):
        return "pong"

def test_logged(actorio_runtime, caplog):
    h = Messy.remote()
    assert actorio.get(h.ping.remote()) == "pong"
    actorio.kill(h, no_restart=False)  # the stop hook raises, the actor restarts
    assert actorio.get(h.ping.remote()) == "pong"
    (record,) = [r for r in caplog.records if r.name == "actorio"]
    assert isinstance(record.exc_info[1], OSError)

def test_left(actorio_runtime):
    KEPT.append(Messy.remote())
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_left*", "*actor Messy id=*"])
    assert "ERROR at teardown of test_logged" not in result.stdout.str()


def test_off_unless_used_and_the_marks(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_without_the_fixture():
    KEPT.append(counter := Counter.remote())
    assert actorio.get(counter.inc.remote()) == 1
    threading.Thread(target=STOP.wait, daemon=True).start()

@pytest.mark.actorio(allow_leaks=True)
def test_allowed(actorio_runtime):
    KEPT.append(Counter.remote())
    threading.Thread(target=STOP.wait, daemon=True).start()

def test_default_backend(actorio_runtime):
    assert actorio_runtime == "process"

@pytest.mark.actorio(backnd="process")
def test_misspelt(actorio_runtime):
    pass
""",
        "--strict-markers",
        "--actorio-backend=process",
    )
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_misspelt*",
            "*@pytest.mark.actorio takes backend= and allow_leaks=, not ?'backnd'?*",
        ]
    )


def test_the_testing_page_runs_as_written(pytester: pytest.Pytester) -> None:
    """docs/testing.md's Python blocks, in order, are one test module: every test passes."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text()
    module = "\n\n".join(re.findall(r"^```python\n(.*?)^```", page, re.MULTILINE | re.DOTALL))
    tests = re.findall(r"^(?:async )?def (test_\w+)", module, re.MULTILINE)
    assert len(tests) >= 6
    pytester.makeini(INI)
    pytester.makepyfile(test_page=module)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    # test_on_every_backend runs twice, once per backend.
    result.assert_outcomes(passed=len(tests) + 1)


def test_the_plugin_unloads_by_its_name(pytester: pytest.Pytester) -> None:
    result = run(pytester, "\ndef test_wants_it(actorio_runtime):\n    pass\n", "-p", "no:actorio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'actorio_runtime' not found*"])
