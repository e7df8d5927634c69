"""actorio's pytest plugin: the ``actorio_runtime`` fixture, for testing code that uses actors.

pytest loads it through the ``pytest11`` entry point whenever actorio is installed. Loading it
imports the actorio package (about 0.1 s) and registers one option, one ini setting and one
marker; nothing else happens to a test that does not ask for the fixture (no autouse fixture,
no hook that touches other tests). ``-p no:actorio`` unloads it altogether.

The fixture gives its test a fresh runtime (any earlier one is shut down first) on the backend
the test's ``@pytest.mark.actorio(backend=...)`` names, else ``--actorio-backend``. Without
either, the runtime starts on first use, in-process, so the test may call ``actorio.init()``
itself. When the test ends it fails the test if the test left behind:

- an actor that is not dead (``actorio.kill`` it, or end it with ``exit_actor()``);
- a thread it started that is still running (join it); actorio's own threads (named
  ``actorio-...``) are the runtime's, and while Ray runs in the process (``backend="ray"``,
  or a ``ray.init()`` of the test session's), its threads and processes are Ray's;
- a child process it started, such as a worker process of a live actor, that is still
  running once the runtime has shut down (Linux only: read from ``/proc``).

The message names each one. Before actors are counted, the log records pytest keeps for
the test let go of their exceptions' tracebacks (their text stays): those frames would keep
the test's handles, and so its actors. Actors get ``actorio_leak_grace_s`` seconds (an ini
setting, 5 by default) to end once their last handle is gone, and threads and processes as
long again to finish after the shutdown. The runtime is shut down either way, so one leak
does not spill into the next test. ``@pytest.mark.actorio(allow_leaks=True)`` reports
nothing for one test.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_MARKER = (
    "actorio(backend='local', allow_leaks=False): the actorio_runtime fixture's backend for "
    "this test, and whether it may leave actors, threads or processes behind"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--actorio-backend",
        default="local",
        choices=("local", "process", "ray"),
        help="the backend actorio_runtime gives tests without an actorio(backend=...) mark",
    )
    parser.addini(
        "actorio_leak_grace_s",
        "seconds a test's threads and processes get to finish after the runtime shut down",
        default="5",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)


@dataclass(frozen=True)
class _Before:
    threads: frozenset[int]
    children: frozenset[int]


def _children() -> dict[int, str]:
    """This process's live child processes (pid to command line), from ``/proc``."""
    found: dict[int, str] = {}
    me = os.getpid()
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # The fields after the command name: state, then the parent's pid.
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) != me or state == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, ValueError, IndexError):  # it ended while we looked
            continue
        found[int(entry.name)] = cmdline
    return found


def _ray_running(backend: str) -> bool:
    """Whether Ray runs in this process: its threads and processes outlive a test by design."""
    ray = sys.modules.get("ray")
    return backend == "ray" or (ray is not None and bool(ray.is_initialized()))


def _own_thread(thread: threading.Thread, backend: str) -> bool:
    """Threads the runtime (or Ray, when it runs) keeps for itself, not the test's."""
    return thread.name.startswith("actorio-") or _ray_running(backend)


def _log_capture(request: pytest.FixtureRequest) -> pytest.LogCaptureFixture | None:
    """The test's captured log records (None when pytest's logging plugin is off)."""
    if not request.config.pluginmanager.has_plugin("logging"):
        return None
    capture: pytest.LogCaptureFixture = request.getfixturevalue("caplog")
    return capture


def _forget_logged_tracebacks(capture: pytest.LogCaptureFixture | None) -> None:
    """pytest keeps a test's log records until the test is over, and a record logged with
    its exception (``log.exception``, a stop hook that raised) keeps that traceback's frames
    alive, with the handles in them: keep such a record's text, and let go of the frames."""
    if capture is None:
        return
    formatter = logging.Formatter()
    for when in ("setup", "call"):
        for record in capture.get_records(when):
            if record.exc_info and record.exc_info[2] is not None:
                record.exc_text = record.exc_text or formatter.formatException(record.exc_info)
                record.exc_info = None


def _leftover_actors(deadline: float) -> list[str]:
    from .util.state import list_actors

    # (The first collection comes 0.1 s in: by then a dropped handle's actor has ended.)
    pause, collected_at = 0.001, time.monotonic() - 0.4
    while True:
        live = [actor for actor in list_actors(limit=100_000) if actor.state != "DEAD"]
        if not live or time.monotonic() >= deadline:
            break
        # A handle caught in a reference cycle is not a leak: collect now and then (a full
        # collection is slow in a big test process, and most tests need none).
        if time.monotonic() - collected_at > 0.5:
            gc.collect()
            collected_at = time.monotonic()
            continue
        # An actor whose last handle went ends on its own loop, soon after: wait for that.
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    left = []
    for actor in live:
        name = f" name={actor.name!r}" if actor.name else ""
        pid = f" pid={actor.pid}" if actor.backend == "process" else ""
        left.append(
            f"actor {actor.class_name}{name} id={actor.actor_id} ({actor.backend}, "
            f"{actor.state}{pid})"
        )
    return left


def _leftover_threads(before: _Before, backend: str, deadline: float) -> list[str]:
    new = [
        t
        for t in threading.enumerate()
        if t.ident not in before.threads and t.is_alive() and not _own_thread(t, backend)
    ]
    for thread in new:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [
        f"thread {t.name!r} (daemon={t.daemon}, target "
        f"{getattr(getattr(t, '_target', None), '__qualname__', '?')})"
        for t in new
        if t.is_alive()
    ]


def _leftover_processes(before: _Before, backend: str, deadline: float) -> list[str]:
    if _ray_running(backend):
        return []
    while True:
        new = {pid: cmd for pid, cmd in _children().items() if pid not in before.children}
        if not new or time.monotonic() >= deadline:
            return [f"process pid={pid}: {cmd}" for pid, cmd in sorted(new.items())]
        # Worker processes exit on their own once shut down: poll, briefly, until they have.
        time.sleep(0.02)


@pytest.fixture
def actorio_runtime(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh actorio runtime for one test, failing the test if it leaves actors, threads
    or processes behind (see the module's docstring). Yields the backend's name."""
    import actorio

    mark = request.node.get_closest_marker("actorio")
    options: dict[str, Any] = dict(mark.kwargs) if mark is not None else {}
    chosen = options.pop("backend", None)
    backend = str(chosen or request.config.getoption("--actorio-backend"))
    allow_leaks = bool(options.pop("allow_leaks", False))
    if options:
        raise pytest.UsageError(
            f"@pytest.mark.actorio takes backend= and allow_leaks=, not {sorted(options)}"
        )
    actorio.shutdown(timeout=0)
    capture = None if allow_leaks else _log_capture(request)
    before = _Before(
        threads=frozenset(t.ident for t in threading.enumerate() if t.ident is not None),
        children=frozenset(_children()),
    )
    if chosen is not None or backend != "local":
        actorio.init(backend=backend)
    # Else the runtime starts on first use, as in a program: the test may call init() itself.
    try:
        yield backend
    finally:
        grace = float(request.config.getini("actorio_leak_grace_s"))
        if not allow_leaks:
            _forget_logged_tracebacks(capture)
        leaks = [] if allow_leaks else _leftover_actors(time.monotonic() + grace)
        actorio.shutdown(timeout=0)
        if not allow_leaks:
            deadline = time.monotonic() + grace
            leaks += _leftover_threads(before, backend, deadline)
            leaks += _leftover_processes(before, backend, deadline)
    if leaks:
        listed = "\n".join(f"  - {leak}" for leak in leaks)
        pytest.fail(
            f"the test left {len(leaks)} thing(s) behind:\n{listed}\nend them in the test "
            "(actorio.kill(handle), thread.join(), ...), or mark it "
            "@pytest.mark.actorio(allow_leaks=True)",
            pytrace=False,
        )
