"""A task whose worker process dies (``os._exit``, SIGKILL) on the process backend: it runs
again per its ``max_retries`` (Ray's default 3, -1 forever, 0 never), then fails with
``WorkerCrashedError``; actor method calls keep failing with ``ActorDiedError``.

Attempts are counted in a file in ``tmp_path``, so they are seen across the task hosts'
processes (each crash replaces one)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from _actors import WAIT, tally

import actorio
from actorio.exceptions import ActorDiedError, ActorError, TaskError, WorkerCrashedError

pytestmark = pytest.mark.timeout(120)

HOW = {"exit": "exit code 1", "sigkill": "signal 9"}


def _die(how: str) -> None:
    if how == "exit":
        os._exit(1)
    os.kill(os.getpid(), signal.SIGKILL)


@actorio.remote(backend="process")
def crash_first(counter: str, crashes: int, how: str) -> int:
    """Kills its own worker on its first ``crashes`` attempts; returns the attempt it ran on."""
    attempt = tally(counter)
    if attempt <= crashes:
        _die(how)
    return attempt


@actorio.remote(backend="process")
async def crash_first_async(counter: str, crashes: int) -> int:
    attempt = tally(counter)
    if attempt <= crashes:
        os._exit(1)
    return attempt


@actorio.remote(backend="process")
def fail_with_value_error(counter: str) -> None:
    raise ValueError(f"attempt {tally(counter)}")


@actorio.remote(backend="process", num_returns="streaming")
def one_then_crash(go: str) -> Iterator[int]:
    """Yields 1, then ends its worker once the consumer has it (the stream runs ahead in the
    worker: without the wait the item could die with it). ``go`` is a FIFO: opening it to
    read blocks until the consumer opens it to write."""
    yield 1
    with open(go) as f:
        f.read()
    os._exit(1)


@actorio.remote(backend="process")
def square(x: int) -> int:
    return x * x


@actorio.remote(backend="process", max_restarts=1)
class Crasher:
    def crash(self) -> None:
        os._exit(1)

    def pid(self) -> int:
        return os.getpid()


def _attempts(counter: Path) -> int:
    return int(counter.read_text())


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_a_crashed_task_runs_again_by_default(tmp_path: Path, how: str) -> None:
    """Ray's default max_retries (3): two crashes, then the third attempt succeeds."""
    counter = tmp_path / "attempts"
    assert actorio.get(crash_first.remote(str(counter), 2, how), timeout=WAIT) == 3
    assert _attempts(counter) == 3


def test_an_async_task_is_retried_too(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    ref = crash_first_async.options(max_retries=1).remote(str(counter), 1)
    assert actorio.get(ref, timeout=WAIT) == 2
    assert _attempts(counter) == 2


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_max_retries_0_fails_at_the_first_crash(tmp_path: Path, how: str) -> None:
    counter = tmp_path / "attempts"
    ref = crash_first.options(max_retries=0).remote(str(counter), 1, how)
    with pytest.raises(WorkerCrashedError) as info:
        actorio.get(ref, timeout=WAIT)
    err = info.value
    message = str(err)
    assert "The worker died unexpectedly while executing task crash_first" in message
    assert f"its worker process ended ({HOW[how]})" in message
    assert "It ran 1 time; max_retries=0 allows no more" in message
    assert not isinstance(err, (ActorError, TaskError))  # no actor of the caller's died
    assert isinstance(err.cause, ActorDiedError)
    assert err.__cause__ is err.cause
    assert HOW[how] in str(err.cause)
    assert _attempts(counter) == 1


def test_the_error_fails_when_the_budget_is_used_up(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    ref = crash_first.options(max_retries=2).remote(str(counter), 99, "exit")
    with pytest.raises(WorkerCrashedError, match=r"It ran 3 times; max_retries=2 allows no more"):
        actorio.get(ref, timeout=WAIT)
    assert _attempts(counter) == 3  # the first run and two retries, no more


def test_the_budget_is_used_to_its_last_retry(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    ref = crash_first.options(max_retries=2).remote(str(counter), 2, "sigkill")
    assert actorio.get(ref, timeout=WAIT) == 3


def test_max_retries_minus_1_retries_past_the_default(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    ref = crash_first.options(max_retries=-1).remote(str(counter), 4, "exit")
    assert actorio.get(ref, timeout=WAIT) == 5  # four crashes: one more than the default allows


def test_the_error_pickles_with_its_message_and_cause(tmp_path: Path) -> None:
    import pickle

    ref = crash_first.options(max_retries=0).remote(str(tmp_path / "n"), 1, "exit")
    with pytest.raises(WorkerCrashedError) as info:
        actorio.get(ref, timeout=WAIT)
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is WorkerCrashedError
    assert str(again) == str(info.value)
    assert isinstance(again.cause, ActorDiedError)


def test_a_streaming_task_fails_after_the_items_it_gave(tmp_path: Path) -> None:
    """Not retried: the consumer has its first items already."""
    go = tmp_path / "go"
    os.mkfifo(go)
    seen: list[int] = []

    def consume() -> None:
        for ref in one_then_crash.remote(str(go)):
            seen.append(actorio.get(ref, timeout=WAIT))
            go.write_text("go")  # (blocks until the generator opens it: it is waiting)

    with pytest.raises(WorkerCrashedError, match=r"streaming task: .*\(exit code 1\)\. A stre"):
        consume()
    assert seen == [1]


def test_the_task_hosts_keep_serving_after_a_crash(tmp_path: Path) -> None:
    ref = crash_first.options(max_retries=0).remote(str(tmp_path / "n"), 1, "exit")
    with pytest.raises(WorkerCrashedError):
        actorio.get(ref, timeout=WAIT)
    # As many tasks as there can be hosts, round robin: the restarted one gets some.
    hosts = os.cpu_count() or 2
    refs = [square.remote(i) for i in range(2 * hosts)]
    assert actorio.get(refs, timeout=WAIT) == [i * i for i in range(2 * hosts)]


def test_an_application_error_is_not_retried_without_retry_exceptions(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    with pytest.raises(ValueError, match="attempt 1") as info:
        actorio.get(fail_with_value_error.remote(str(counter)), timeout=WAIT)
    assert isinstance(info.value, TaskError)
    assert not isinstance(info.value, WorkerCrashedError)
    assert _attempts(counter) == 1


def test_an_application_error_is_retried_with_retry_exceptions(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    ref = fail_with_value_error.options(max_retries=2, retry_exceptions=[ValueError]).remote(
        str(counter)
    )
    with pytest.raises(ValueError, match="attempt 3"):
        actorio.get(ref, timeout=WAIT)
    assert _attempts(counter) == 3


def test_an_actor_method_whose_worker_dies_still_gets_actor_died_error() -> None:
    """Restarting (max_restarts=1) with no max_task_retries, then dead for good."""
    c = Crasher.remote()
    first = actorio.get(c.pid.remote(), timeout=WAIT)
    with pytest.raises(ActorDiedError, match=r"max_task_retries=0\) are used up") as info:
        actorio.get(c.crash.remote(), timeout=WAIT)
    assert not isinstance(info.value, WorkerCrashedError)
    assert "exit code 1" in str(info.value)
    assert actorio.get(c.pid.remote(), timeout=WAIT) != first  # a fresh worker
    with pytest.raises(ActorDiedError, match="exit code 1") as info:
        actorio.get(c.crash.remote(), timeout=WAIT)  # restarts used up
    assert not isinstance(info.value, WorkerCrashedError)
