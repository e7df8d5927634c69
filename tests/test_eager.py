"""Eager calls (actorio.backends._local_calls): a plain call made on the host loop's thread to
an idle regular inline actor runs at once and returns a ref that is already done.

In-process only: actors here share lists, events and handles with the test by reference."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import sys
import threading
import time
from typing import Any

import pytest

import actorio
from actorio._runtime import get_runtime
from actorio.backends._local_calls import BURST, DEPTH
from actorio.exceptions import ActorDiedError, InvalidOptionsError, TaskError
from actorio.util.state import get_actor

WAIT = 20.0

#: read and set by actor methods; each actor has a context of its own
TAG: contextvars.ContextVar[str] = contextvars.ContextVar("eager_test_tag", default="unset")


@actorio.remote
class Box:
    """A regular actor (sync methods only): created in async code it runs them inline."""

    def __init__(self, log: list[Any] | None = None) -> None:
        self.log: list[Any] = [] if log is None else log
        self.attempts = 0

    def echo(self, x: Any) -> Any:
        return x

    def put(self, item: Any) -> Any:
        self.log.append(item)
        return item

    def history(self) -> list[Any]:
        return list(self.log)

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def spin(self, seconds: float) -> float:
        """Work for ``seconds`` (a busy loop: something for the latency sample to see)."""
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
        return seconds

    def read_cancelled(self) -> Any:
        """Read a cancelled asyncio future: raises asyncio.CancelledError, a BaseException."""
        fut = asyncio.get_running_loop().create_future()
        fut.cancel()
        return fut.result()

    def raise_cancelled(self) -> None:
        raise asyncio.CancelledError("from the method itself")

    def block(self, seconds: float) -> None:
        time.sleep(seconds)  # blocks the loop: what the watchdog is there to report

    def flaky(self) -> str:
        self.attempts += 1
        if self.attempts == 1:
            raise ValueError("first attempt fails")
        return f"ok after {self.attempts}"

    def quit(self) -> None:
        sys.exit(3)

    def leave(self) -> None:
        actorio.exit_actor()

    def call(self, target: Any, x: Any) -> tuple[bool, Any]:
        """Call ``target.echo`` from inside this method: was its ref done at return?"""
        ref = target.echo.remote(x)
        return ref.done(), ref

    def call_self(self, me: Any) -> Any:
        """Call this very actor (``me``: a handle to it, or None for current_actor)."""
        if me is None:
            me = actorio.get_runtime_context().current_actor
        self.log.append("outer starts")
        ref = me.put.remote("inner")
        self.log.append(("outer ends", ref.done()))
        return ref

    def queue_behind(self, holder: list[Any]) -> str:
        """Make a call to this actor that waits behind this one; hand its ref out."""
        holder.append(actorio.get_runtime_context().current_actor.put.remote("queued"))
        return "outer"

    def actor_id(self) -> str | None:
        return actorio.get_runtime_context().get_actor_id()

    def read_tag(self) -> str:
        return TAG.get()

    def set_tag(self, value: str) -> str:
        TAG.set(value)
        return TAG.get()

    def running_now(self, actor_id: str) -> tuple[int, int]:
        """The state API's view of this actor while this call runs."""
        state = get_actor(actor_id)
        assert state is not None
        return state.calls_running, state.mailbox_depth

    def __actorio_stop__(self) -> None:
        self.log.append("stopped")


@actorio.remote
class AsyncBox:
    async def echo(self, x: Any) -> Any:
        return x

    def sync_echo(self, x: Any) -> Any:  # a sync method of an async actor: not eager either
        return x

    async def call(self, target: Any, x: Any) -> bool:
        """Call a regular actor from inside an awaited chain of calls."""
        ref = target.echo.remote(x)
        done = ref.done()
        assert await ref == x
        return bool(done)


@actorio.remote(mode="threaded", max_concurrency=2)
class ThreadedBox:
    def echo(self, x: Any) -> Any:
        return x


@actorio.remote(eager=False)
class LazyBox:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def put(self, item: Any) -> Any:
        self.log.append(item)
        return item


@actorio.remote
class Link:
    """One link of a chain of actors, each calling the next from inside its method."""

    def __init__(self, index: int, log: list[Any], got: dict[int, tuple[bool, Any]]) -> None:
        self.index = index
        self.log = log
        self.got = got  # call number -> (was its ref done when .remote() returned, the ref)
        self.next: Any = None

    def link(self, nxt: Any) -> None:
        self.next = nxt

    def step(self) -> int:
        self.log.append(("enter", self.index))
        if self.next is not None:
            ref = self.next.step.remote()
            self.got[self.index + 1] = (ref.done(), ref)
        self.log.append(("leave", self.index))
        return self.index


async def ready(*handles: Any) -> None:
    """Wait until each actor is constructed: until then calls queue behind the constructor."""
    for h in handles:
        await h.__ray_ready__.remote()


# -- 1. the eager path -------------------------------------------------------------------------


async def test_a_plain_call_to_an_idle_actor_is_done_when_remote_returns() -> None:
    b = Box.remote()
    await ready(b)
    loop = asyncio.get_running_loop()
    turns: list[str] = []
    loop.call_soon(turns.append, "the loop took a turn")
    ref = b.echo.remote(41)
    assert isinstance(ref, actorio.ObjectRef)
    assert ref.done()
    assert await ref == 41
    assert ref.future().result(timeout=0) == 41
    assert turns == []  # neither the call nor its await gave the loop a turn
    # Again and again: each idle call is done at once.
    refs = [b.put.remote(i) for i in range(10)]
    assert all(r.done() for r in refs)
    assert turns == []
    assert [r.result() for r in refs] == list(range(10))
    assert await b.history.remote() == list(range(10))


async def test_the_first_call_waits_for_the_constructor() -> None:
    b = Box.remote()
    ref = b.echo.remote(1)
    assert not ref.done()  # queued behind the constructor, which runs on a turn of the loop
    assert await ref == 1
    assert b.echo.remote(2).done()


async def test_actors_on_threads_and_async_and_threaded_actors_are_never_eager() -> None:
    placed = Box.options(placement="thread").remote()
    async_box = AsyncBox.remote()
    threaded = ThreadedBox.remote()
    await ready(placed, async_box, threaded)
    calls = [
        placed.echo.remote(1),
        async_box.echo.remote(2),
        async_box.sync_echo.remote(3),
        threaded.echo.remote(4),
    ]
    assert [r.done() for r in calls] == [False] * 4
    assert await asyncio.gather(*calls) == [1, 2, 3, 4]


def test_an_actor_made_in_plain_sync_code_is_not_eager_even_on_its_loop() -> None:
    b = Box.remote()  # from sync code: its methods run on a thread, its host is the runtime loop
    assert actorio.get(b.echo.remote(0), timeout=WAIT) == 0

    async def call_on_the_host_loop() -> tuple[bool, Any]:
        ref = b.echo.remote(7)
        return ref.done(), await ref

    loop = get_runtime().background_loop()
    future = asyncio.run_coroutine_threadsafe(call_on_the_host_loop(), loop)
    assert future.result(WAIT) == (False, 7)


def test_a_call_on_the_host_thread_while_its_loop_is_stopped_waits_for_the_loop() -> None:
    loop = asyncio.new_event_loop()

    async def make() -> Any:
        b = Box.remote()
        await ready(b)
        return b

    try:
        b = loop.run_until_complete(make())
        ref = b.echo.remote("later")  # the host loop's thread, but nothing runs the loop
        assert not ref.done()
        assert loop.run_until_complete(ref) == "later"
        loop.run_until_complete(actorio.shutdown_async(timeout=WAIT))
    finally:
        loop.close()


async def test_a_call_with_a_ref_argument_goes_through_the_mailbox() -> None:
    b = Box.remote()
    await ready(b)
    arg = b.echo.options(timeout=5).remote("resolved")  # pending: it went to the mailbox
    refs = [b.echo.remote(arg), b.put.remote(item=arg)]
    assert [r.done() for r in refs] == [False, False]  # they wait for their argument...
    assert await asyncio.gather(*refs) == ["resolved", "resolved"]  # ... and get its value
    done_arg = b.echo.remote("already done")
    assert done_arg.done()
    ref = b.echo.remote(done_arg)
    assert not ref.done()  # any ref argument: resolving it is the mailbox's job
    assert await ref == "already done"


async def test_a_call_from_inside_an_awaited_chain_goes_through_the_mailbox() -> None:
    b = Box.remote()
    caller = AsyncBox.remote()
    await ready(b, caller)
    assert await caller.call.remote(b, 5) is False
    assert b.echo.remote(6).done()  # from the test itself (no chain), eager again


# -- 2. FIFO with callers on other threads and loops ------------------------------------------


async def test_callers_on_other_threads_and_loops_keep_their_order() -> None:
    log: list[tuple[str, int]] = []
    b = Box.remote(log)
    await ready(b)
    n = 300
    start = threading.Barrier(3)

    def plain_thread() -> None:
        start.wait(WAIT)
        refs = [b.put.remote(("thread", i)) for i in range(n)]
        actorio.get(refs, timeout=WAIT)

    async def other_loop_calls() -> None:
        refs = []
        for i in range(n):
            refs.append(b.put.remote(("loop", i)))
            if i % 10 == 0:
                await asyncio.sleep(0)  # a turn of this loop, as a busy server would take
        await asyncio.gather(*refs)

    def other_loop() -> None:
        start.wait(WAIT)
        asyncio.run(other_loop_calls())

    threads = [threading.Thread(target=plain_thread), threading.Thread(target=other_loop)]
    for t in threads:
        t.start()
    await asyncio.to_thread(start.wait, WAIT)
    refs = []
    for i in range(n):
        refs.append(b.put.remote(("host", i)))
        if i % 3 == 0:
            await asyncio.sleep(0)  # let the other callers' drains run between ours
    assert [r[1] for r in await asyncio.gather(*refs)] == list(range(n))
    for t in threads:
        await asyncio.to_thread(t.join, WAIT)
    assert len(log) == 3 * n
    for who in ("thread", "loop", "host"):
        assert [i for w, i in log if w == who] == list(range(n)), who


async def test_a_call_from_another_thread_made_first_runs_first() -> None:
    log: list[str] = []
    b = Box.remote(log)
    await ready(b)
    assert b.put.remote("eager").done()
    early: list[Any] = []
    t = threading.Thread(target=lambda: early.append(b.put.remote("from a thread")))
    t.start()
    t.join(WAIT)  # on purpose, blocking this loop: the thread's call waits for its drain
    ref = b.put.remote("host, after")
    assert not ref.done()  # a call is queued: this one waits behind it
    assert await ref == "host, after"
    assert actorio.get(early[0], timeout=WAIT) == "from a thread"
    assert log == ["eager", "from a thread", "host, after"]


async def test_a_call_from_another_loop_made_first_runs_first() -> None:
    log: list[str] = []
    b = Box.remote(log)
    await ready(b)
    submitted = threading.Event()
    release = threading.Event()
    results: list[Any] = []

    async def elsewhere() -> None:
        ref = b.put.remote("from another loop")
        submitted.set()
        results.append(await ref)
        release.wait(WAIT)

    t = threading.Thread(target=lambda: asyncio.run(elsewhere()))
    t.start()
    assert submitted.wait(WAIT)  # blocking this loop: the other loop's call is still queued
    ref = b.put.remote("host, after")
    assert not ref.done()
    assert await ref == "host, after"
    release.set()
    await asyncio.to_thread(t.join, WAIT)
    assert results == ["from another loop"]
    assert log == ["from another loop", "host, after"]


# -- 3. the starvation bound --------------------------------------------------------------------


async def test_a_caller_that_never_yields_still_lets_other_tasks_run() -> None:
    b = Box.remote()
    await ready(b)
    loop = asyncio.get_running_loop()
    calls = 0
    pending_at_return = 0
    stop = False
    other_ran = asyncio.Event()
    seen_by_other: list[int] = []
    started: list[asyncio.Task[None]] = []

    async def other() -> None:
        seen_by_other.append(calls)
        other_ran.set()

    async def poller() -> None:
        nonlocal calls, pending_at_return
        # Started once the poller runs: it can only run if the poller lets the loop turn.
        started.append(loop.create_task(other()))
        while not stop:
            ref = b.echo.remote(calls)
            pending_at_return += not ref.done()
            assert await ref == calls
            calls += 1

    task = asyncio.create_task(poller())
    await asyncio.wait_for(other_ran.wait(), WAIT)
    stop = True
    await asyncio.wait_for(task, WAIT)
    await started[0]
    assert 1 <= seen_by_other[0] <= BURST + 1
    assert pending_at_return >= 1  # the call past the burst went through the mailbox


async def test_the_burst_is_exact_and_refills_on_a_turn_of_the_loop() -> None:
    b = Box.remote()
    await ready(b)
    await asyncio.sleep(0)  # a fresh budget: any refill armed by ready() has run
    refs = [b.echo.remote(i) for i in range(BURST + 3)]
    assert [r.done() for r in refs] == [True] * BURST + [False] * 3
    assert await asyncio.gather(*refs) == list(range(BURST + 3))
    assert b.echo.remote("again").done()


async def test_the_burst_is_shared_by_every_actor_on_the_loop() -> None:
    boxes = [Box.remote() for _ in range(4)]
    await ready(*boxes)
    await asyncio.sleep(0)
    refs = [boxes[i % 4].echo.remote(i) for i in range(BURST + 4)]
    assert sum(r.done() for r in refs) == BURST
    assert await asyncio.gather(*refs) == list(range(BURST + 4))


# -- 4. nested and recursive calls -----------------------------------------------------------


async def test_a_method_calling_another_idle_actor_gets_a_done_ref() -> None:
    a, b = Box.remote(), Box.remote()
    await ready(a, b)
    ref = a.call.remote(b, "nested")
    assert ref.done()
    done, inner = await ref
    assert done is True
    assert inner.result() == "nested"


async def test_nesting_deeper_than_the_bound_queues_the_call_past_it() -> None:
    log: list[tuple[str, int]] = []
    got: dict[int, tuple[bool, Any]] = {}
    links = [Link.remote(i, log, got) for i in range(DEPTH + 4)]
    await ready(*links)
    for here, nxt in itertools.pairwise(links):
        await here.link.remote(nxt)
    await asyncio.sleep(0)  # a fresh burst
    first = links[0].step.remote()  # call 0, then link i makes call i + 1
    assert first.done()
    # Calls 0 .. DEPTH - 1 ran inside one another; call DEPTH would be one too many: queued.
    assert {i: d for i, (d, _) in got.items()} == {i: i < DEPTH for i in range(1, DEPTH + 1)}
    assert log == [("enter", i) for i in range(DEPTH)] + [
        ("leave", i) for i in reversed(range(DEPTH))
    ]
    assert await got[DEPTH][1] == DEPTH
    # It ran from the mailbox, at depth 0 again: the calls it made were eager.
    assert [got[i][0] for i in range(DEPTH + 1, DEPTH + 4)] == [True] * 3
    assert log[2 * DEPTH :] == [("enter", i) for i in range(DEPTH, DEPTH + 4)] + [
        ("leave", i) for i in reversed(range(DEPTH, DEPTH + 4))
    ]
    assert [await got[i][1] for i in range(1, DEPTH + 4)] == list(range(1, DEPTH + 4))


@pytest.mark.parametrize("through", ["its handle", "current_actor"])
async def test_a_method_calling_its_own_actor_gets_a_pending_ref(through: str) -> None:
    log: list[Any] = []
    b = Box.remote(log)
    await ready(b)
    outer = b.call_self.remote(b if through == "its handle" else None)
    assert outer.done()
    inner = outer.result()
    assert not inner.done()  # it waits for the call that made it
    assert await inner == "inner"
    assert log == ["outer starts", ("outer ends", False), "inner"]


# -- 5. errors and tracebacks --------------------------------------------------------------------


async def test_an_eager_error_is_the_original_type_with_the_methods_traceback() -> None:
    b = Box.remote()
    await ready(b)
    ref = b.fail.remote("eager boom")
    assert ref.done()
    err = ref.exception()
    assert isinstance(err, TaskError)
    assert isinstance(err, ValueError)
    assert isinstance(err.cause, ValueError)
    assert "Box.fail raised ValueError: eager boom" in str(err)
    assert "in fail" in err.traceback_str
    assert "raise ValueError(message)" in err.traceback_str
    with pytest.raises(ValueError, match="eager boom"):
        await ref
    # The actor lives on, and takes eager calls.
    ok = b.echo.remote("still here")
    assert ok.done()
    assert ok.result() == "still here"


@pytest.mark.parametrize("how", ["quit", "leave"])
async def test_exiting_in_an_eager_call_ends_the_actor(how: str) -> None:
    log: list[Any] = []
    b = Box.remote(log)
    await ready(b)
    ref = getattr(b, how).remote()
    with pytest.raises(ActorDiedError):
        await asyncio.wait_for(ref, WAIT)
    later = b.echo.remote("too late")
    with pytest.raises(ActorDiedError):
        await asyncio.wait_for(later, WAIT)
    await asyncio.wait_for(actorio.monitor(b), WAIT)
    assert log == ["stopped"]


async def test_an_eager_call_that_fails_once_is_retried() -> None:
    b = Box.options(max_task_retries=1, retry_exceptions=[ValueError]).remote()
    await ready(b)
    ref = b.flaky.remote()
    assert not ref.done()  # the first attempt failed: the retry waits in the mailbox
    assert await ref == "ok after 2"
    assert b.echo.remote(1).done()


# -- 6. cancellation and timeouts -------------------------------------------------------------


async def test_cancelling_a_done_eager_ref_keeps_its_value() -> None:
    b = Box.remote()
    await ready(b)
    ref = b.echo.remote("kept")
    assert ref.cancel() is False
    actorio.cancel(ref)  # the same through the API
    assert not ref.cancelled()
    assert ref.result() == "kept"
    assert await ref == "kept"


async def test_wait_for_on_a_done_eager_ref_returns_its_value() -> None:
    b = Box.remote()
    await ready(b)
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await asyncio.wait_for(b.echo.remote(3), 0.5) == 3
    assert loop.time() - start < 0.5  # returned, not timed out
    async with asyncio.timeout(0.5):
        assert await b.echo.remote(4) == 4


async def test_a_call_with_per_call_options_goes_through_the_mailbox() -> None:
    b = Box.remote()
    await ready(b)
    ref = b.echo.options(timeout=5).remote("optioned")
    assert not ref.done()
    assert await ref == "optioned"
    assert b.echo.remote("plain").done()


async def test_a_call_queued_behind_a_running_one_can_be_cancelled_before_it_runs() -> None:
    log: list[Any] = []
    b = Box.remote(log)
    await ready(b)
    holder: list[Any] = []
    assert b.queue_behind.remote(holder).result() == "outer"
    [queued] = holder
    assert not queued.done()
    assert queued.cancel() is True
    assert await b.put.remote("after") == "after"
    assert await b.history.remote() == ["after"]  # the cancelled call never ran
    assert queued.cancelled()


# -- 7. opting out -------------------------------------------------------------------------------


async def _assert_not_eager(make: Any) -> None:
    log: list[int] = []
    b = make(log)
    await ready(b)
    refs = [b.put.remote(i) for i in range(5)]
    assert [r.done() for r in refs] == [False] * 5
    assert await asyncio.gather(*refs) == list(range(5))
    assert log == list(range(5))


async def test_options_eager_false() -> None:
    await _assert_not_eager(lambda log: Box.options(eager=False).remote(log))


async def test_remote_decorator_eager_false() -> None:
    await _assert_not_eager(lambda log: LazyBox.remote(log))


async def test_init_eager_false_and_an_actor_that_asks_for_it() -> None:
    actorio.init(eager=False)
    await _assert_not_eager(lambda log: Box.remote(log))
    b = Box.options(eager=True).remote()  # the actor's say beats the runtime's
    await ready(b)
    assert b.echo.remote(1).done()


def test_a_bad_eager_value_is_refused() -> None:
    with pytest.raises(InvalidOptionsError, match=r"eager must be True .* got 'yes'"):
        Box.options(eager="yes")
    with pytest.raises(InvalidOptionsError, match="eager must be True"):
        actorio.remote(eager="yes")(type("Thing", (), {"f": lambda self: 1}))
    with pytest.raises(InvalidOptionsError, match="eager must be True"):
        actorio.init(eager="yes")  # type: ignore[arg-type]


# -- 8. the actor's context, and the state API ----------------------------------------------


async def test_an_eager_call_runs_as_its_actor() -> None:
    b = Box.remote()
    await ready(b)
    ref = b.actor_id.remote()
    assert ref.done()
    assert ref.result() == b._actorio_id
    assert actorio.get_runtime_context().get_actor_id() is None  # the caller is no actor


async def test_context_variables_stay_with_the_actor() -> None:
    b = Box.remote()
    await ready(b)
    TAG.set("caller's")
    ref = b.read_tag.remote()
    assert ref.done()
    assert ref.result() == "unset"  # the caller's variables do not reach the actor
    assert b.set_tag.remote("actor's").result() == "actor's"
    assert TAG.get() == "caller's"  # ... nor do the actor's reach the caller
    again = b.read_tag.remote()
    assert again.done()
    assert again.result() == "actor's"  # the next eager call sees what the last one set
    assert await b.read_tag.options(timeout=5).remote() == "actor's"  # so does the mailbox


async def test_the_state_api_counts_eager_calls() -> None:
    b = Box.options(name="eager-stats").remote()
    await ready(b)
    await asyncio.sleep(0)
    before = get_actor(b)
    assert before is not None
    assert before.calls_completed == 1  # __ray_ready__
    assert before.latency_mean_ms < 0.5
    # 2 ms of work per successful call; one in SAMPLE_EVERY is timed, so one of them is.
    refs = [b.fail.remote("x") if i % 4 == 3 else b.spin.remote(0.002) for i in range(40)]
    assert all(r.done() for r in refs)
    for r in refs:
        r.exception()  # (read: asyncio logs errors nobody retrieved)
    state = get_actor(b)
    assert state is not None
    assert (state.calls_completed, state.calls_failed) == (1 + 30, 10)
    assert (state.mailbox_depth, state.calls_running) == (0, 0)
    assert state.latency_mean_ms > 0.5
    assert [(method, kind) for _, method, kind, _ in state.errors] == [("fail", "ValueError")] * 5
    during = b.running_now.remote(b._actorio_id)
    assert during.done()
    assert during.result() == (1, 0)


async def test_the_watchdog_names_a_blocking_eager_method(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actorio.init(blocking_warning_s=0.05)
    b = Box.remote()
    await ready(b)
    with caplog.at_level(logging.WARNING, logger="actorio"):
        ref = b.block.remote(0.5)
    assert ref.done()
    [record] = [r for r in caplog.records if r.name == "actorio"]
    assert record.getMessage().startswith("Box.block has blocked the event loop")


# -- a method that raises asyncio.CancelledError ----------------------------------------------


@pytest.mark.parametrize(
    ("options", "method"),
    [
        ({"eager": True}, "read_cancelled"),
        ({"eager": False}, "read_cancelled"),
        ({"placement": "thread"}, "raise_cancelled"),
    ],
    ids=["eager", "mailbox", "thread"],
)
async def test_a_method_raising_cancelled_error_fails_its_call_only(
    options: dict[str, Any], method: str
) -> None:
    b = Box.options(**options).remote()
    await ready(b)
    ref = getattr(b, method).remote()
    done, _ = await asyncio.wait([ref], timeout=WAIT)
    assert done == {ref}
    assert not ref.cancelled()
    err = ref.exception()
    assert isinstance(err, TaskError)
    assert not isinstance(err, asyncio.CancelledError)  # its awaiter is not cancelled
    assert isinstance(err.cause, asyncio.CancelledError)
    assert await asyncio.wait_for(b.echo.remote("next"), WAIT) == "next"


# -- kill and shutdown -----------------------------------------------------------------------


@pytest.mark.parametrize("eager", [True, False])
async def test_kill_from_another_thread_refuses_later_calls(eager: bool) -> None:
    b = Box.options(eager=eager).remote()
    await ready(b)
    assert await b.echo.remote(1) == 1
    await asyncio.to_thread(actorio.kill, b)
    ref = b.echo.remote(2)  # dead at once, whether or not the rest of the kill has run here
    with pytest.raises(ActorDiedError, match=r"killed with actorio\.kill\(\)"):
        await asyncio.wait_for(ref, WAIT)
    await asyncio.wait_for(actorio.monitor(b), WAIT)


@pytest.mark.parametrize("eager", [True, False])
async def test_a_restarted_actor_takes_calls_again(eager: bool) -> None:
    log: list[Any] = []
    b = Box.options(eager=eager, max_restarts=1).remote(log)
    await ready(b)
    assert await b.put.remote("first life") == "first life"
    actorio.kill(b, no_restart=False)
    ref = b.put.remote("second life")
    assert not ref.done()  # waits for the new instance
    assert await asyncio.wait_for(ref, WAIT) == "second life"
    again = b.put.remote("and on")
    assert again.done() is eager
    assert await again == "and on"
    assert log == ["first life", "stopped", "second life", "and on"]


async def test_shutdown_with_eager_actors_leaves_nothing_behind() -> None:
    logs: list[list[Any]] = [[] for _ in range(3)]
    boxes = [Box.remote(log) for log in logs]
    await ready(*boxes)
    assert all(b.put.remote("eager").done() for b in boxes)
    queued = boxes[0].call_self.remote(boxes[0]).result()  # waits in the mailbox
    await actorio.shutdown_async(timeout=WAIT)
    assert await queued == "inner"  # accepted before shutdown: it ran
    assert logs == [
        ["eager", "outer starts", ("outer ends", False), "inner", "stopped"],
        ["eager", "stopped"],
        ["eager", "stopped"],
    ]
    assert not actorio.is_initialized()
    late = boxes[1].echo.remote("late")
    with pytest.raises(ActorDiedError):
        await asyncio.wait_for(late, WAIT)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
