"""Graceful shutdown: accepted calls get their time, new ones are refused, stop hooks run,
late calls fail with a clear error, nothing is left running (also at interpreter exit).

The first two tests run on every backend (what must outlive the actor is logged to a file); the
others use objects shared with in-process actors, or run a script in a subprocess."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _actors import WAIT, lines, note

import actorio
from actorio.exceptions import ActorDiedError

ROOT = Path(__file__).resolve().parent.parent


def wait_until_refused(h: Any, refused: list[BaseException]) -> None:
    """Ping ``h`` until it refuses new calls (shutdown has begun); record the refusal."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            actorio.get(h.ping.remote(), timeout=WAIT)
        except ActorDiedError as exc:
            refused.append(exc)
            return


@actorio.remote(mode="threaded", max_concurrency=2)
class Worker:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def block(self, started: threading.Event, release: threading.Event) -> str:
        started.set()
        assert release.wait(WAIT)
        self.log.append("finished")
        return "finished"

    def ping(self) -> str:
        return "pong"

    def __actorio_stop__(self) -> None:
        self.log.append("stopped")


@actorio.remote
class Forever:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def wait(self, started: threading.Event) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.log.append("cancelled")
            raise

    async def ping(self) -> str:
        return "pong"

    async def __actorio_stop__(self) -> None:
        await asyncio.sleep(0)
        self.log.append("stopped")


@actorio.remote(mode="threaded", max_concurrency=2)
class Draining:
    """Threaded; ``wait_fifo`` blocks until someone writes to a named pipe (an event that
    works across processes without polling)."""

    def __init__(self, log: str) -> None:
        self.log = log

    def wait_fifo(self, fifo: str) -> str:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            # No writer has opened it yet, so it is not readable until one writes.
            readable, _, _ = select.select([fd], [], [], WAIT)
        finally:
            os.close(fd)
        if not readable:
            raise TimeoutError("nobody wrote to the pipe")
        note(self.log, "finished")
        return "finished"

    def ping(self) -> str:
        return "pong"

    def __actorio_stop__(self) -> None:
        note(self.log, "stopped")


@actorio.remote
class Stuck:
    """Async; ``forever`` never returns, and logs its cancellation."""

    def __init__(self, log: str) -> None:
        self.log = log
        self.started = asyncio.Event()

    async def forever(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            note(self.log, "cancelled")
            raise

    async def wait_started(self) -> None:
        await self.started.wait()

    async def ping(self) -> str:
        return "pong"

    async def __actorio_stop__(self) -> None:
        await asyncio.sleep(0)
        note(self.log, "stopped")


@pytest.mark.ray_differs(
    "shutdown ends Ray actors with __ray_terminate__; the stop hook's effect is not awaited by "
    "the driver"
)
def test_shutdown_lets_an_in_flight_call_finish(backend: str, tmp_path: Path) -> None:
    log, fifo = tmp_path / "log", tmp_path / "fifo"
    os.mkfifo(fifo)
    d = Draining.options(backend=backend).remote(str(log))
    ref = d.wait_fifo.remote(str(fifo))
    refused: list[BaseException] = []

    def release_once_refused() -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not refused:
            try:
                actorio.get(d.ping.remote(), timeout=WAIT)
            except ActorDiedError as exc:  # shutdown has begun
                refused.append(exc)
        with open(fifo, "w") as w:  # opens once the call is waiting on the other end
            w.write("go")

    helper = threading.Thread(target=release_once_refused)
    helper.start()
    start = time.monotonic()
    actorio.shutdown(timeout=WAIT)
    elapsed = time.monotonic() - start
    helper.join(WAIT)
    assert elapsed < WAIT  # it returned as soon as the call finished
    assert actorio.get(ref, timeout=WAIT) == "finished"
    [refusal] = refused
    assert "shutting down and accepts no new calls" in str(refusal)
    assert "Draining" in str(refusal)
    assert lines(log) == ["finished", "stopped"]  # the stop hook ran after the call
    with pytest.raises(ActorDiedError, match="shutdown"):
        actorio.get(d.ping.remote(), timeout=WAIT)


@pytest.mark.ray_differs(
    "calls still running on Ray at the shutdown deadline end with the driver's loop"
)
def test_shutdown_timeout_fails_calls_that_do_not_finish(backend: str, tmp_path: Path) -> None:
    log = tmp_path / "log"
    s = Stuck.options(backend=backend).remote(str(log))
    ref = s.forever.remote()
    actorio.get(s.wait_started.remote(), timeout=WAIT)
    start = time.monotonic()
    actorio.shutdown(timeout=0.2)
    elapsed = time.monotonic() - start
    assert 0.2 <= elapsed < WAIT
    with pytest.raises(ActorDiedError) as info:
        actorio.get(ref, timeout=WAIT)
    message = str(info.value)
    assert "actorio.shutdown() was called" in message
    assert "pending after its 0.2 s timeout were failed" in message
    assert lines(log) == ["cancelled", "stopped"]
    with pytest.raises(ActorDiedError, match="shutdown"):
        actorio.get(s.ping.remote(), timeout=WAIT)


def test_shutdown_drains_queued_calls_of_a_regular_actor() -> None:
    @actorio.remote
    class Counter:
        def __init__(self, seen: list[int]) -> None:
            self.count = 0
            self.seen = seen

        def increment(self) -> int:
            self.count += 1
            return self.count

        def __actorio_stop__(self) -> None:
            self.seen.append(self.count)

    seen: list[int] = []
    c = Counter.remote(seen)
    refs = [c.increment.remote() for _ in range(500)]
    actorio.shutdown(timeout=WAIT)
    assert actorio.get(refs, timeout=WAIT) == list(range(1, 501))
    assert seen == [500]


def test_shutdown_timeout_does_not_wait_for_a_stuck_thread() -> None:
    """The async case runs on every backend (below); a threaded call cannot be cancelled, so
    here the stop hook runs without waiting for it."""
    log: list[str] = []
    started, release = threading.Event(), threading.Event()
    h = Worker.remote(log)
    ref = h.block.remote(started, release)
    assert started.wait(WAIT)
    try:
        start = time.monotonic()
        actorio.shutdown(timeout=0.2)
        elapsed = time.monotonic() - start
        with pytest.raises(ActorDiedError) as info:
            actorio.get(ref, timeout=WAIT)
    finally:
        release.set()
    assert 0.2 <= elapsed < 5
    message = str(info.value)
    assert "actorio.shutdown() was called" in message
    assert "pending after its 0.2 s timeout were failed" in message
    assert log[0] == "stopped"  # the hook did not wait for the stuck thread
    with pytest.raises(ActorDiedError, match="shutdown"):
        actorio.get(h.ping.remote(), timeout=WAIT)


def test_calls_made_during_shutdown_to_an_actor_still_constructing_are_refused() -> None:
    # A probe actor tells when shutdown has begun: it refuses calls. The other actor is still
    # in its constructor then, with a call accepted before the shutdown queued behind it. That
    # call gets its time; a call made after shutdown began must be refused.
    release = threading.Event()

    @actorio.remote(mode="threaded")
    class Slow:
        def __init__(self) -> None:
            assert release.wait(WAIT)

        def ping(self) -> str:
            return "pong"

    slow = Slow.remote()  # registered first, so shutdown reaches it before the probe
    probe = Worker.remote([])
    assert actorio.get(probe.ping.remote(), timeout=WAIT) == "pong"
    early = slow.ping.remote()
    late: list[Any] = []

    def call_once_refused() -> None:
        wait_until_refused(probe, [])
        late.append(slow.ping.remote())
        release.set()

    helper = threading.Thread(target=call_once_refused)
    helper.start()
    try:
        actorio.shutdown(timeout=5)
    finally:
        release.set()
        helper.join(WAIT)
    assert actorio.get(early, timeout=WAIT) == "pong"
    [ref] = late
    with pytest.raises(ActorDiedError, match="shutting down and accepts no new calls"):
        actorio.get(ref, timeout=WAIT)


def test_no_actorio_thread_is_left_after_shutdown() -> None:
    actorio.init(blocking_warning_s=0.1)

    @actorio.remote
    def task(x: int) -> int:
        return x + 1

    w = Worker.remote([])
    f = Forever.remote([])
    started = threading.Event()
    pending = f.wait.remote(started)
    assert actorio.get([w.ping.remote(), task.remote(1)], timeout=WAIT) == ["pong", 2]
    assert started.wait(WAIT)
    names = {t.name.rstrip("0123456789") for t in threading.enumerate()}
    assert {"actorio-loop", "actorio-watchdog", "actorio-worker-"} <= names
    actorio.shutdown(timeout=0.2)
    with pytest.raises(ActorDiedError):
        actorio.get(pending, timeout=WAIT)
    deadline = time.monotonic() + WAIT
    for t in threading.enumerate():
        if t.name.startswith("actorio-"):
            t.join(max(0.0, deadline - time.monotonic()))
    assert [t.name for t in threading.enumerate() if t.name.startswith("actorio-")] == []


# -- interpreter exit --------------------------------------------------------------------------


def run_script(body: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("ACTORIO_BACKEND", None)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-X", "dev", "-c", textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env=env,
    )
    return proc, time.monotonic() - start


def test_exit_drains_fire_and_forget_calls() -> None:
    proc, _ = run_script(
        """
        import actorio

        @actorio.remote
        class Counter:
            def __init__(self):
                self.count = 0

            def increment(self):
                self.count += 1

            def __actorio_stop__(self):
                print("final count", self.count, flush=True)

        c = Counter.remote()
        for _ in range(100):
            c.increment.remote()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["final count 100"]
    assert proc.stderr == ""


def test_exit_with_a_call_pending_forever_is_bounded_and_clean() -> None:
    proc, elapsed = run_script(
        """
        import asyncio
        import threading
        import actorio

        @actorio.remote
        class Waiter:
            async def forever(self, started):
                started.set()
                await asyncio.Event().wait()

            def __actorio_stop__(self):
                print("stopped", flush=True)

        w = Waiter.remote()
        started = threading.Event()
        ref = w.forever.remote(started)
        assert started.wait(10)
        print("end", flush=True)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["end", "stopped"]
    assert proc.stderr == ""
    assert elapsed < 10


#: Ray programs whose last line hands work off and exits at once. Each piece of work outlasts
#: that line (a short sleep stands for it) and then appends a line to the file in argv[1].
#: What they use is started first (warm_up): a worker process takes a moment to start, which
#: counts against the shutdown grace (1 s) and on a loaded machine could use it all up.
_LAST_LINES = {
    "actor method": """
        @ray.remote
        class Worker:
            def work(self, path):
                time.sleep(0.05)
                write(path, "actor method")

        worker = Worker.remote()
        warm_up(worker)
        worker.work.remote(sys.argv[1])
        """,
    "remote function": """
        @ray.remote
        def work(path):
            time.sleep(0.05)
            write(path, "remote function")

        warm_up()
        work.remote(sys.argv[1])
        """,
    "more kinds": """
        @ray.remote
        async def later(path):
            await asyncio.sleep(0.05)
            write(path, "async function")

        @ray.remote
        def slow_value():
            time.sleep(0.05)
            return "function with a ref argument"

        @ray.remote
        def write_value(path, line):
            write(path, line)

        @ray.remote
        class Logger:
            @ray.method(num_returns=0)
            def log(self, path):
                time.sleep(0.05)
                write(path, "method without a result")

        logger = Logger.remote()
        warm_up(logger)
        later.remote(sys.argv[1])
        logger.log.remote(sys.argv[1])
        write_value.remote(sys.argv[1], slow_value.remote())
        """,
}
_EXPECTED = {
    "actor method": ["actor method"],
    "remote function": ["remote function"],
    "more kinds": ["async function", "function with a ref argument", "method without a result"],
}
_PRELUDE = """
    import asyncio
    import os
    import sys
    import time

    import actorio as ray


    def write(path, line):
        with open(path, "a") as f:
            f.write(line + "\\n")


    @ray.remote
    def nothing():
        return None


    def warm_up(*actors):
        ray.get([nothing.remote() for _ in range(os.cpu_count() or 2)])
        ray.get([a.__ray_ready__.remote() for a in actors])
"""


@pytest.mark.parametrize("variant", sorted(_LAST_LINES))
def test_exit_runs_work_handed_off_by_the_last_line(
    backend: str, variant: str, tmp_path: Path
) -> None:
    """What a plain sync driver starts on its last line runs before the process exits, within
    the shutdown grace. Run several times on worker processes, where a task used to be lost
    when the exit killed the task hosts first; on Ray once (each run starts a Ray)."""
    script = textwrap.dedent(_PRELUDE) + textwrap.dedent(_LAST_LINES[variant])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["ACTORIO_BACKEND"] = backend
    runs = {"local": 3, "process": 10}.get(backend, 1)
    for run in range(runs):
        marker = tmp_path / f"run{run}"
        proc = subprocess.run(
            [sys.executable, "-c", script, str(marker)],
            capture_output=True,
            text=True,
            timeout=100,
            check=False,
            cwd=ROOT,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        if backend != "ray":  # Ray logs to stderr
            assert proc.stderr == ""
        assert sorted(lines(marker)) == _EXPECTED[variant], f"run {run}: {proc.stderr}"


@actorio.remote
class Reporter:
    """An async actor on the test's own loop, like an actor made in a server's lifespan."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.started = asyncio.Event()

    async def slow(self, release: asyncio.Event) -> str:
        self.started.set()
        await release.wait()
        self.log.append("slow done")
        return "done"

    async def until_started(self) -> None:
        await self.started.wait()

    def ping(self) -> str:
        return "pong"

    async def __actorio_stop__(self) -> None:
        self.log.append("stopped")


async def test_shutdown_async_drains_actors_on_this_very_loop() -> None:
    log: list[str] = []
    reporter = Reporter.remote(log)
    release = asyncio.Event()
    slow = reporter.slow.remote(release)
    await reporter.until_started.remote()
    stopping = asyncio.ensure_future(actorio.shutdown_async(timeout=WAIT))
    await asyncio.sleep(0)  # shutdown has begun: new calls are refused...
    with pytest.raises(ActorDiedError, match="shutting down"):
        await reporter.ping.remote()
    release.set()  # ...while the accepted one finishes
    assert await slow == "done"
    await asyncio.wait_for(stopping, WAIT)
    assert log == ["slow done", "stopped"]
    assert not actorio.is_initialized()


async def test_shutdown_async_fails_what_outlives_its_timeout() -> None:
    log: list[str] = []
    reporter = Reporter.remote(log)
    slow = reporter.slow.remote(asyncio.Event())  # never released
    await reporter.until_started.remote()
    start = time.monotonic()
    await actorio.shutdown_async(timeout=0.2)
    assert time.monotonic() - start < 10  # the 0.2 s timeout, not a hang
    with pytest.raises(ActorDiedError, match=r"shutdown_async\(\) was called"):
        await slow
    assert log == ["stopped"]


@actorio.remote(mode="threaded", max_concurrency=2)
class Orphan:
    def ping(self) -> str:
        return "pong"


def test_shutdown_ends_a_threaded_actor_whose_loop_is_closed() -> None:
    """An actor outlives the asyncio.run loop it was made on (no actorio.run cleanup):
    shutdown still finalizes it, and the worker threads that served it end."""
    held: list[actorio.ActorHandle[Orphan]] = []

    async def main() -> None:
        h = Orphan.remote()
        held.append(h)
        assert await h.ping.remote() == "pong"

    asyncio.run(main())
    pool = [t for t in threading.enumerate() if t.name.startswith("actorio-worker-")]
    assert pool
    state = actorio.util.state.get_actor(held[0])
    assert state is not None
    assert state.state == "ALIVE"  # nothing ended it with its loop
    actorio.shutdown(timeout=0)
    for t in pool:
        t.join(WAIT)
    assert [t.name for t in pool if t.is_alive()] == []
