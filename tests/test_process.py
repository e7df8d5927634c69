"""The process backend: real worker processes, real signals, real pickling."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import actorio
from actorio.exceptions import ActorDiedError, SerializationError, TaskError

WAIT = 20.0


@actorio.remote(backend="process")
class Counter:
    def __init__(self, start: int = 0, log: str | None = None) -> None:
        self.count = start
        self.log = log

    def increment(self) -> int:
        self.count += 1
        return self.count

    def pid(self) -> int:
        return os.getpid()

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def echo(self, value: object) -> object:
        return value

    def relay_death(self) -> None:
        raise ActorDiedError("some other actor died")

    def give_lock(self) -> object:
        return threading.Lock()

    def nap(self, seconds: float) -> str:
        time.sleep(seconds)
        return "rested"

    def __actorio_stop__(self) -> None:
        if self.log:
            Path(self.log).write_text(f"stopped at {self.count}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes; only its parent can reap it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pids: list[int], deadline_s: float = 10.0) -> list[int]:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def test_calls_run_in_another_process_in_order() -> None:
    c = Counter.remote(10)
    assert actorio.get([c.increment.remote() for _ in range(50)], timeout=WAIT) == list(
        range(11, 61)
    )
    assert actorio.get(c.pid.remote(), timeout=WAIT) != os.getpid()


async def test_await_from_async_code() -> None:
    c = Counter.remote()
    assert await asyncio.gather(*(c.increment.remote() for _ in range(5))) == [1, 2, 3, 4, 5]


def test_errors_keep_their_type_and_traceback_and_the_actor_lives() -> None:
    c = Counter.remote()
    with pytest.raises(ValueError, match="broken") as info:
        actorio.get(c.fail.remote("broken"), timeout=WAIT)
    assert isinstance(info.value, TaskError)
    assert "raise ValueError(message)" in info.value.traceback_str
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1


def test_unpicklable_argument_and_result_name_the_type_and_method() -> None:
    c = Counter.remote()
    with pytest.raises(SerializationError, match=r"Counter\.echo: argument 0 of type lock"):
        c.echo.remote(threading.Lock())
    with pytest.raises(SerializationError, match="of type lock cannot be pickled"):
        actorio.get(c.give_lock.remote(), timeout=WAIT)
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1  # alive and unchanged


def test_values_are_copies() -> None:
    c = Counter.remote()
    sent = [1, 2]
    back = actorio.get(c.echo.remote(sent), timeout=WAIT)
    assert back == sent
    assert back is not sent


def test_sigkill_fails_calls_in_flight_promptly() -> None:
    c = Counter.remote()
    pid = actorio.get(c.pid.remote(), timeout=WAIT)
    ref = c.nap.remote(30)
    queued = c.increment.remote()
    start = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    for r in (ref, queued):
        with pytest.raises(ActorDiedError, match="signal 9"):
            actorio.get(r, timeout=WAIT)
    assert time.monotonic() - start < 5  # "within about a second", with CI slack
    with pytest.raises(ActorDiedError):
        actorio.get(c.increment.remote(), timeout=WAIT)


def test_sigkill_restarts_in_a_fresh_process_and_retries() -> None:
    c = Counter.options(max_restarts=1, max_task_retries=1).remote()
    pid = actorio.get(c.pid.remote(), timeout=WAIT)
    ref = c.nap.remote(0.5)
    os.kill(pid, signal.SIGKILL)
    assert actorio.get(ref, timeout=WAIT) == "rested"  # retried on the new process
    new_pid = actorio.get(c.pid.remote(), timeout=WAIT)
    assert new_pid != pid
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1  # fresh state
    os.kill(new_pid, signal.SIGKILL)  # restarts used up
    with pytest.raises(ActorDiedError, match="signal 9"):
        actorio.get(c.nap.remote(30), timeout=WAIT)


def test_kill_runs_the_stop_hook_and_ends_the_process(tmp_path: Path) -> None:
    log = tmp_path / "log"
    c = Counter.remote(0, str(log))
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1
    pid = actorio.get(c.pid.remote(), timeout=WAIT)
    death = actorio.monitor(c)
    actorio.kill(c)
    reason = actorio.get(death, timeout=WAIT)
    assert "killed with actorio.kill()" in str(reason)
    assert log.read_text() == "stopped at 1"
    assert _wait_gone([pid]) == []
    with pytest.raises(ActorDiedError, match="killed"):
        actorio.get(c.increment.remote(), timeout=WAIT)


@pytest.mark.parametrize("named", [False, True])
def test_a_released_actor_stops_its_worker_after_its_last_call(tmp_path: Path, named: bool) -> None:
    """Dropped by its last handle (named or not, as in Ray), with a call still pending: the
    call runs, then the worker runs the stop hook and exits."""
    log = tmp_path / "log"
    c = (Counter.options(name="dropped") if named else Counter).remote(0, str(log))
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1
    pid = actorio.get(c.pid.remote(), timeout=WAIT)
    c.nap.remote(0.2)  # fire and forget on the last handle
    c.increment.remote()
    del c
    gc.collect()
    assert _wait_gone([pid]) == []
    assert log.read_text() == "stopped at 2"
    assert actorio.util.list_named_actors() == []


def test_named_process_actor_is_found_from_the_driver() -> None:
    c = Counter.options(name="proc-counter").remote()
    actorio.get(c.increment.remote(), timeout=WAIT)
    again = actorio.get_actor("proc-counter")
    assert again == c
    assert actorio.get(again.increment.remote(), timeout=WAIT) == 2


def test_threaded_and_async_modes_run_concurrently_in_the_worker() -> None:
    @actorio.remote(backend="process", max_concurrency=4)
    class Threads:
        def meet(self, parties: int) -> int:
            barrier = self.__dict__.setdefault("barrier", threading.Barrier(parties))
            barrier.wait(10)  # only passes if `parties` calls run at once
            return threading.get_ident()

    t = Threads.remote()
    idents = actorio.get([t.meet.remote(4) for _ in range(4)], timeout=WAIT)
    assert len(set(idents)) == 4

    @actorio.remote(backend="process")
    class Waiters:
        def __init__(self) -> None:
            self.gate = asyncio.Event()
            self.arrived = 0

        async def wait(self) -> int:
            self.arrived += 1
            if self.arrived == 5:
                self.gate.set()
            await self.gate.wait()  # only passes if all five interleave
            return self.arrived

    w = Waiters.remote()
    assert actorio.get([w.wait.remote() for _ in range(5)], timeout=WAIT) == [5] * 5


def test_worker_talks_over_a_unix_socket_only() -> None:
    c = Counter.remote()
    pid = actorio.get(c.pid.remote(), timeout=WAIT)
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    assert inodes, "the worker should hold its channel socket"
    unix = {line.split()[6] for line in Path("/proc/net/unix").read_text().splitlines()[1:]}
    tcp = {
        line.split()[9]
        for name in ("tcp", "tcp6")
        for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
    }
    assert inodes <= unix  # every socket it holds is a Unix socket
    assert not inodes & tcp


DRIVER = textwrap.dedent(
    """
    import os, sys, time
    import actorio

    @actorio.remote(backend="process")
    class Worker:
        def pid(self):
            return os.getpid()

    workers = [Worker.remote() for _ in range(2)]
    print(*actorio.get([w.pid.remote() for w in workers]), flush=True)
    if sys.argv[1] == "hang":
        time.sleep(600)
    """
)


def _driver(mode: str) -> tuple[subprocess.Popen[str], list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    pids = [int(p) for p in line.split()]
    assert len(pids) == 2, proc.stderr.read() if proc.stderr else line
    return proc, pids


def test_no_orphans_when_the_driver_is_sigkilled() -> None:
    proc, pids = _driver("hang")
    with proc:
        assert all(_alive(p) for p in pids)
        proc.kill()
        proc.communicate(timeout=WAIT)
    assert _wait_gone(pids) == []


def test_no_orphans_when_the_driver_exits() -> None:
    proc, pids = _driver("exit")
    with proc:
        _, err = proc.communicate(timeout=WAIT)
    assert (proc.returncode, err) == (0, "")
    assert _wait_gone(pids) == []


def test_classes_from_main_travel_by_value(tmp_path: Path) -> None:
    script = tmp_path / "main_script.py"
    script.write_text(
        textwrap.dedent(
            """
            import actorio

            @actorio.remote(backend="process")
            class Local:
                def __init__(self, k):
                    self.k = k
                def times(self, x):
                    return self.k * x

            print(actorio.get(Local.remote(3).times.remote(14)))
            """
        )
    )
    out = subprocess.run(
        [sys.executable, "-X", "dev", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (out.returncode, out.stdout, out.stderr) == (0, "42\n", "")


def test_a_method_raising_actor_died_error_answers_at_once() -> None:
    c = Counter.remote()
    with pytest.raises(ActorDiedError, match="some other actor died") as info:
        actorio.get(c.relay_death.remote(), timeout=WAIT)
    assert isinstance(info.value, TaskError)  # the method's error, not this actor's death
    assert actorio.get(c.increment.remote(), timeout=WAIT) == 1
