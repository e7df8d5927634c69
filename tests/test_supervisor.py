"""actorio.supervisor: restart strategies, intentional ends, stopping, giving up.

Tests that take the ``backend`` fixture run on every backend (on Ray, a supervisor refuses its
actors: Ray restarts them itself); the others log to a list shared with in-process children."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from _actors import WAIT, Counter, Flaky, SyncLife, lines

import actorio
from actorio.exceptions import (
    ActorDiedError,
    ActorNotFoundError,
    InvalidOptionsError,
    SupervisorError,
)


@actorio.remote
class Child:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.count = 0
        log.append(f"init {name}")

    def __actorio_stop__(self) -> None:
        self.log.append(f"stop {self.name}")

    def increment(self) -> int:
        self.count += 1
        return self.count

    def get(self) -> int:
        return self.count

    def quit(self) -> None:
        actorio.exit_actor()


@actorio.remote
class Broken:
    def __init__(self, attempts: list[int]) -> None:
        attempts.append(1)
        raise ConnectionRefusedError(f"attempt {len(attempts)}: database is down")

    def ping(self) -> str:
        return "pong"


async def _bump(h: actorio.ActorHandle[Child], times: int) -> int:
    value = 0
    for _ in range(times):
        value = await h.increment.remote()
    return value


def _restarted(log: list[str], since: int, name: str) -> bool:
    """True if ``name`` was stopped and then built again in ``log[since:]``."""
    tail = log[since:]
    return (
        f"stop {name}" in tail
        and f"init {name}" in tail
        and tail.index(f"stop {name}") < tail.index(f"init {name}")
    )


async def test_supervisor_one_for_one(backend: str, tmp_path: Path) -> None:
    if backend == "ray":
        await _ray_refuses_supervision()
        return
    logs = {name: tmp_path / name for name in "ab"}
    async with asyncio.timeout(WAIT), actorio.supervisor("one_for_one") as sup:
        a = sup.start(SyncLife.options(backend=backend), str(logs["a"]))
        b = sup.start(SyncLife.options(backend=backend), str(logs["b"]))
        assert sup.children == [a, b]
        assert list(await asyncio.gather(a.increment.remote(), b.increment.remote())) == [1, 1]
        assert await b.increment.remote() == 2
        actorio.kill(a, no_restart=False)  # a failure: only a restarts
        assert await a.get.remote() == 0  # fresh state
        assert await a.generation.remote() == 2
        assert await b.get.remote() == 2  # untouched
        deaths = [actorio.monitor(a), actorio.monitor(b)]
    reasons = await asyncio.gather(*deaths)
    assert all("supervisor stopped" in str(r) for r in reasons)
    # The stop hook ran on the retiring instance before the new one was built.
    assert lines(logs["a"]) == [
        "init 1",
        "start 1",
        "call 1",
        "stop 1",
        "init 2",
        "start 2",
        "stop 2",
    ]
    assert lines(logs["b"]) == ["init 1", "start 1", "call 1", "call 1", "stop 1"]
    with pytest.raises(ActorDiedError, match="supervisor stopped"):
        await a.get.remote()


async def test_supervisor_one_for_all(backend: str) -> None:
    if backend == "ray":
        await _ray_refuses_supervision()
        return
    async with actorio.supervisor("one_for_all", max_restarts=3) as sup:
        a = sup.start(Counter.options(backend=backend))
        b = sup.start(Counter.options(backend=backend))
        assert list(await asyncio.gather(a.increment.remote(), b.increment.remote())) == [1, 1]
        actorio.kill(a, no_restart=False)  # a failure: both restart (fresh state)
        # With worker processes the failure is seen when a's socket closes: wait for a's
        # new instance, by which time the supervisor has restarted b as well.
        assert await a.__ray_ready__.remote()
        assert list(await asyncio.gather(a.increment.remote(), b.increment.remote())) == [1, 1]
        deaths = [actorio.monitor(a), actorio.monitor(b)]
    assert all("supervisor stopped" in str(d) for d in await asyncio.gather(*deaths))


async def test_supervisor_rest_for_one_and_intentional_ends(backend: str, tmp_path: Path) -> None:
    if backend == "ray":
        await _ray_refuses_supervision()
        return
    logs = {name: tmp_path / name for name in "abc"}
    async with asyncio.timeout(WAIT), actorio.supervisor("rest_for_one") as sup:
        a, b, c = (sup.start(SyncLife.options(backend=backend), str(logs[n])) for n in "abc")
        for h in (a, b, c):
            assert await h.increment.remote() == 1
        actorio.kill(b, no_restart=False)
        # In a worker, b's failure is seen when its process ends; by the time b answers
        # again, the supervisor has restarted c too.
        assert await b.__ray_ready__.remote() is True
        assert list(await asyncio.gather(a.get.remote(), b.get.remote(), c.get.remote())) == [
            1,
            0,
            0,
        ]
        assert [await h.generation.remote() for h in (a, b, c)] == [1, 2, 2]
        # An intentional end is not restarted, and touches no sibling.
        watcher = actorio.monitor(c)
        actorio.kill(c)
        assert "killed with actorio.kill()" in str(await watcher)
        assert list(await asyncio.gather(a.get.remote(), b.get.remote())) == [1, 0]
    assert "stop 1" in lines(logs["a"])
    assert lines(logs["c"])[-2:] == ["start 2", "stop 2"]
    assert (tmp_path / "c.tally").read_text() == "2"


async def test_supervisor_gives_up(backend: str, tmp_path: Path) -> None:
    if backend == "ray":
        await _ray_refuses_supervision()
        return
    children: list[Any] = []

    async def supervise() -> None:
        async with actorio.supervisor(max_restarts=2, within_s=60) as sup:
            children.append(sup.start(SyncLife.options(backend=backend), str(tmp_path / "s")))
            broken = Flaky.options(backend=backend, max_restarts=0)
            children.append(sup.start(broken, str(tmp_path / "attempts"), 99))
            async with asyncio.timeout(WAIT):  # fails the test instead of hanging
                await asyncio.Event().wait()

    with pytest.raises(SupervisorError, match="more than 2 restarts within 60") as info:
        await supervise()
    assert "constructor raised" in str(info.value)
    cause = info.value.cause
    assert isinstance(cause, ActorDiedError)
    assert isinstance(cause.cause, ConnectionError)
    assert "attempt 3 failed" in str(cause.cause)
    assert (tmp_path / "attempts").read_text() == "3"
    sibling, broken_child = children
    with pytest.raises(ActorDiedError, match="supervisor gave up"):
        await sibling.get.remote()
    with pytest.raises(ActorDiedError, match="constructor raised"):
        await broken_child.which.remote()
    assert lines(tmp_path / "s") == ["init 1", "start 1", "stop 1"]


async def _ray_refuses_supervision() -> None:
    """Ray restarts its actors itself (max_restarts): a supervisor refuses them, clearly."""
    async with actorio.supervisor() as sup:
        with pytest.raises(InvalidOptionsError, match="Ray restarts its actors itself"):
            sup.start(Counter.options(backend="ray"))
        assert sup.children == []


async def test_supervisor_restarts_a_child_that_has_no_restarts_of_its_own() -> None:
    log: list[str] = []
    async with asyncio.timeout(WAIT), actorio.supervisor(max_restarts=5) as sup:
        a = sup.start(Child.options(max_restarts=0), "a", log)
        for _ in range(3):
            await _bump(a, 1)
            actorio.kill(a, no_restart=False)
            assert await a.get.remote() == 0
        assert log.count("init a") == 4


async def test_one_for_all_restarts_every_child() -> None:
    log: list[str] = []
    async with asyncio.timeout(WAIT), actorio.supervisor("one_for_all") as sup:
        a, b, c = (sup.start(Child, name, log) for name in "abc")
        for h in (a, b, c):
            assert await _bump(h, 2) == 2
        mark = len(log)
        actorio.kill(b, no_restart=False)
        assert list(await asyncio.gather(a.get.remote(), b.get.remote(), c.get.remote())) == [
            0,
            0,
            0,
        ]
        for name in "abc":
            assert _restarted(log, mark, name), log[mark:]
        assert len(log[mark:]) == 6


async def test_rest_for_one_restarts_the_failing_child_and_later_ones() -> None:
    log: list[str] = []
    async with asyncio.timeout(WAIT), actorio.supervisor("rest_for_one") as sup:
        a, b, c = (sup.start(Child, name, log) for name in "abc")
        for h in (a, b, c):
            assert await _bump(h, 2) == 2
        mark = len(log)
        actorio.kill(b, no_restart=False)
        assert list(await asyncio.gather(a.get.remote(), b.get.remote(), c.get.remote())) == [
            2,
            0,
            0,
        ]
        assert not _restarted(log, mark, "a")
        assert _restarted(log, mark, "b")
        assert _restarted(log, mark, "c")
        assert sorted(log[mark:]) == ["init b", "init c", "stop b", "stop c"]

        mark = len(log)  # the last child fails: nobody after it, nobody before it restarts
        actorio.kill(c, no_restart=False)
        assert list(await asyncio.gather(a.get.remote(), b.get.remote(), c.get.remote())) == [
            2,
            0,
            0,
        ]
        assert log[mark:] == ["stop c", "init c"]


async def test_a_failing_constructor_is_restarted_by_the_supervisor() -> None:
    inits: list[int] = []

    @actorio.remote
    class Flaky:
        def __init__(self) -> None:
            inits.append(1)
            if len(inits) < 3:
                raise ConnectionError(f"attempt {len(inits)}")

        def attempts(self) -> int:
            return len(inits)

    async with asyncio.timeout(WAIT), actorio.supervisor(max_restarts=2) as sup:
        f = sup.start(Flaky)
        assert await f.attempts.remote() == 3
    assert len(inits) == 3


@pytest.mark.parametrize("how", ["kill", "exit_actor"])
async def test_an_intentional_end_is_not_restarted(how: str) -> None:
    log: list[str] = []
    async with asyncio.timeout(WAIT), actorio.supervisor("one_for_all") as sup:
        a = sup.start(Child, "a", log)
        b = sup.start(Child, "b", log)
        assert await _bump(a, 1) == 1
        assert await _bump(b, 1) == 1
        watcher = actorio.monitor(a)
        if how == "kill":
            actorio.kill(a)
        else:
            with pytest.raises(ActorDiedError, match="exit_actor"):
                await a.quit.remote()
        reason = await watcher
        assert isinstance(reason, ActorDiedError)
        with pytest.raises(ActorDiedError):
            await a.get.remote()
        assert await b.get.remote() == 1  # one_for_all did not kick in
        assert log == ["init a", "init b", "stop a"]


async def test_leaving_the_block_stops_every_child() -> None:
    log: list[str] = []
    async with asyncio.timeout(WAIT):
        async with actorio.supervisor() as sup:
            children = [sup.start(Child, name, log) for name in "abc"]
            named = sup.start(Child.options(name="cache"), "named", log)
            watchers = [actorio.monitor(h) for h in [*children, named]]
            for h in children:
                await _bump(h, 1)
            assert actorio.get_actor("cache") == named
            actorio.kill(named, no_restart=False)  # restarted: keeps its name
            assert await named.get.remote() == 0
            assert actorio.get_actor("cache") == named
            assert not any(w.done() for w in watchers)
        assert all(w.done() for w in watchers)
        assert sorted(log[-4:]) == ["stop a", "stop b", "stop c", "stop named"]
        for w in watchers:
            reason = w.result()
            assert isinstance(reason, ActorDiedError)
            assert "supervisor stopped" in str(reason)
        for h in [*children, named]:
            with pytest.raises(ActorDiedError, match="supervisor stopped"):
                await h.get.remote()
        with pytest.raises(ActorNotFoundError):
            actorio.get_actor("cache")
    with pytest.raises(InvalidOptionsError, match="has stopped"):
        sup.start(Child, "late", log)


async def test_an_error_in_the_body_propagates_and_stops_the_children() -> None:
    log: list[str] = []
    started: list[actorio.ActorHandle[Child]] = []

    async def body() -> None:
        async with actorio.supervisor() as sup:
            started.append(sup.start(Child, "a", log))
            async with asyncio.timeout(WAIT):
                await _bump(started[0], 1)
            raise LookupError("body failed")

    with pytest.raises(LookupError, match="body failed"):
        await body()
    (a,) = started
    assert log == ["init a", "stop a"]
    with pytest.raises(ActorDiedError):
        await a.get.remote()


async def test_too_many_restarts_cancel_the_body_and_raise() -> None:
    log: list[str] = []
    body: list[str] = []
    watchers: list[actorio.ObjectRef[ActorDiedError]] = []
    children: list[actorio.ActorHandle[Child]] = []

    async def supervise() -> None:
        async with actorio.supervisor(max_restarts=2, within_s=60) as sup:
            a = sup.start(Child, "a", log)
            children.extend([a, sup.start(Child, "b", log)])
            watchers.extend(actorio.monitor(h) for h in children)
            for _ in range(3):
                async with asyncio.timeout(WAIT):
                    await _bump(a, 1)
                actorio.kill(a, no_restart=False)
            try:
                async with asyncio.timeout(WAIT):  # fails the test instead of hanging
                    await asyncio.Event().wait()
            except asyncio.CancelledError:
                body.append("cancelled")
                raise
            body.append("went on")

    with pytest.raises(SupervisorError, match="more than 2 restarts within 60") as info:
        await supervise()
    assert body == ["cancelled"]
    err = info.value
    assert isinstance(err.cause, ActorDiedError)
    assert "kill(no_restart=False)" in str(err)
    assert "kill(no_restart=False)" in str(err.cause)
    assert all(w.done() for w in watchers)
    for h in children:
        with pytest.raises(ActorDiedError):
            await h.get.remote()
    assert log.count("init a") == 3
    assert log.count("init b") == 1
    assert log.count("stop b") == 1
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_restarts_within_the_limit_do_not_give_up() -> None:
    log: list[str] = []
    async with asyncio.timeout(WAIT), actorio.supervisor(max_restarts=3, within_s=60) as sup:
        a = sup.start(Child, "a", log)
        for _ in range(3):
            await _bump(a, 1)
            actorio.kill(a, no_restart=False)
        assert await a.get.remote() == 0
    assert log.count("init a") == 4


def test_invalid_supervisor_options() -> None:
    with pytest.raises(InvalidOptionsError, match="strategy must be") as info:
        actorio.supervisor("one_for_none")  # type: ignore[arg-type]
    assert "'one_for_none'" in str(info.value)
    with pytest.raises(InvalidOptionsError, match="max_restarts must be >= 0"):
        actorio.supervisor(max_restarts=-1)
    with pytest.raises(InvalidOptionsError, match="within_s > 0"):
        actorio.supervisor(within_s=0)
