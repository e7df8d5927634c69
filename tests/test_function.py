"""Remote functions (Ray tasks): where they run, num_returns, call-site checks, errors."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

import pytest
from _actors import WAIT as BACKEND_WAIT

import actorio
from actorio import ObjectRef, RemoteFunction
from actorio.exceptions import (
    ActorioError,
    DirectCallError,
    InvalidArgumentsError,
    RayTaskError,
    TaskError,
)

WAIT = 10.0
CALLS: list[Any] = []  # side effects of 'recorded'; cleared by the tests that read it


class CustomError(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


@actorio.remote
class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> int:
        self.count += 1
        return self.count

    def get_count(self) -> int:
        return self.count


@actorio.remote
def current_thread_sync() -> threading.Thread:
    return threading.current_thread()


@actorio.remote
async def current_thread_async() -> threading.Thread:
    return threading.current_thread()


@actorio.remote
async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


@actorio.remote
def square(x: int) -> int:
    """Square a number."""
    return x * x


@actorio.remote
async def square_async(x: int) -> int:
    return x * x


@actorio.remote
def sum_of_squares(xs: list[int]) -> int:
    # A def task runs on a worker thread, so it may block on other refs.
    return sum(actorio.get([square.remote(x) for x in xs], timeout=WAIT))


@actorio.remote
def get_async_from_thread(x: int) -> int:
    return int(actorio.get(square_async.remote(x), timeout=WAIT))


@actorio.remote
def pair(a: Any, b: Any) -> tuple[Any, Any]:
    return a, b


@actorio.remote
async def pair_async(a: Any, b: Any) -> tuple[Any, Any]:
    return a, b


@actorio.remote
def triple() -> tuple[int, int, int]:
    return 1, 2, 3


@actorio.remote
def recorded(x: int) -> int:
    CALLS.append(x)
    return x


@actorio.remote
def kw_only(*, key: str) -> str:
    return key


@actorio.remote
def fail_value(message: str) -> None:
    raise ValueError(message)


@actorio.remote
async def fail_value_async(message: str) -> None:
    raise ValueError(message)


@actorio.remote
def fail_key() -> None:
    raise KeyError("missing-key")


@actorio.remote
def fail_custom() -> None:
    raise CustomError(7, "custom detail")


@actorio.remote
def fail_os() -> None:
    raise FileNotFoundError(2, "No such file", "/nowhere/at/all")


@actorio.remote
def fail_timeout() -> None:
    raise TimeoutError("user-level timeout")


@actorio.remote
def bump_ten_times(counter: Any) -> str:
    for _ in range(10):
        counter.increment.remote()
    return "submitted"


@actorio.remote
def bump_and_read(counter: Any) -> int:
    for _ in range(10):
        counter.increment.remote()
    return int(actorio.get(counter.get_count.remote(), timeout=WAIT))


# -- where tasks run ----------------------------------------------------------------------------


def test_def_task_runs_on_a_worker_thread() -> None:
    worker = actorio.get(current_thread_sync.remote(), timeout=WAIT)
    loop_thread = actorio.get(current_thread_async.remote(), timeout=WAIT)
    main = threading.main_thread()
    assert worker is not main
    assert loop_thread is not main  # from sync code, async tasks run on the runtime loop
    assert worker is not loop_thread


async def test_def_task_runs_off_the_callers_loop_thread() -> None:
    worker = await asyncio.wait_for(current_thread_sync.remote(), WAIT)
    assert worker is not threading.current_thread()
    assert worker is not threading.main_thread()


async def test_async_task_runs_on_the_callers_loop() -> None:
    loop = asyncio.get_running_loop()
    ref = running_loop.remote()
    assert ref.get_loop() is loop
    assert await asyncio.wait_for(ref, WAIT) is loop
    assert await asyncio.wait_for(current_thread_async.remote(), WAIT) is threading.current_thread()


def test_def_task_can_call_get_inside() -> None:
    assert actorio.get(sum_of_squares.remote([1, 2, 3]), timeout=WAIT) == 14
    assert actorio.get(get_async_from_thread.remote(5), timeout=WAIT) == 25


async def test_def_task_can_call_get_inside_from_async_caller() -> None:
    assert await asyncio.wait_for(sum_of_squares.remote([2, 3]), WAIT) == 13
    assert await asyncio.wait_for(get_async_from_thread.remote(4), WAIT) == 16


def test_remote_function_values_and_kwargs() -> None:
    assert actorio.get(square.remote(9)) == 81
    assert actorio.get(pair.remote(1, b="two")) == (1, "two")
    assert actorio.get(kw_only.remote(key="k")) == "k"
    assert isinstance(square, RemoteFunction)


@actorio.remote
async def add_async(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def test_remote_functions_on_every_backend(backend: str) -> None:
    assert actorio.get(square.options(backend=backend).remote(7), timeout=BACKEND_WAIT) == 49
    assert actorio.get(add_async.options(backend=backend).remote(2, 3), timeout=BACKEND_WAIT) == 5


def test_ref_arguments_of_remote_functions_on_every_backend(backend: str) -> None:
    seven: Any = square.options(backend=backend).remote(7)  # refs where values are expected
    four: Any = square.options(backend=backend).remote(2)
    total = add_async.options(backend=backend).remote(seven, b=four)
    assert actorio.get(total, timeout=BACKEND_WAIT) == 53
    if backend != "ray":  # (Ray waits only for its own refs: docs/ray.md)
        local: Any = square.remote(3)  # an in-process ref, maybe still running
        assert actorio.get(add_async.options(backend=backend).remote(local, 1)) == 10


# -- num_returns ------------------------------------------------------------------------------


def test_options_num_returns_two_gives_two_refs() -> None:
    refs = pair.options(num_returns=2).remote("left", "right")
    assert isinstance(refs, list)
    assert len(refs) == 2
    assert all(isinstance(r, ObjectRef) for r in refs)
    assert actorio.get(refs, timeout=WAIT) == ["left", "right"]
    # options() returns a copy: the original still returns one ref
    single = pair.remote("a", "b")
    assert isinstance(single, ObjectRef)
    value = actorio.get(single, timeout=WAIT)
    assert tuple(value) == ("a", "b")


async def test_options_num_returns_two_async_function() -> None:
    first, second = pair_async.options(num_returns=2).remote(1, 2)
    assert await asyncio.wait_for(first, WAIT) == 1
    assert await asyncio.wait_for(second, WAIT) == 2


def test_num_returns_mismatch_fails_every_ref() -> None:
    refs = triple.options(num_returns=2).remote()
    for ref in refs:
        with pytest.raises(InvalidArgumentsError, match="num_returns=2"):
            actorio.get(ref, timeout=WAIT)


# -- call-site checks ----------------------------------------------------------------------------


def test_direct_call_raises_direct_call_error() -> None:
    with pytest.raises(DirectCallError) as info:
        square(3)
    err = info.value
    assert isinstance(err, TypeError)
    assert isinstance(err, ActorioError)
    assert ".remote(" in str(err)
    assert "square" in str(err)
    # The plain function stays reachable (set by functools.update_wrapper at run time, so
    # RemoteFunction's type does not declare it).
    assert cast(Any, square).__wrapped__(3) == 9


def test_remote_function_keeps_the_function_metadata() -> None:
    wrapped: Any = square  # functools.update_wrapper sets these attributes at run time
    assert wrapped.__name__ == "square"
    assert wrapped.__wrapped__.__name__ == "square"
    assert square.__doc__ == "Square a number."
    assert current_thread_sync.__module__ == __name__


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1, 2, 3), {}), ((), {}), ((1,), {"y": 2}), ((1,), {"x": 1})],
    ids=["too_many", "missing", "unknown_kw", "duplicate"],
)
def test_wrong_arguments_raise_at_call_site(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    CALLS.clear()
    with pytest.raises(InvalidArgumentsError) as info:
        recorded.remote(*args, **kwargs)
    assert isinstance(info.value, TypeError)
    assert "recorded" in str(info.value)
    # Nothing ran: a later valid call is the only one recorded.
    assert actorio.get(recorded.remote(5), timeout=WAIT) == 5
    assert CALLS == [5]
    CALLS.clear()


def test_missing_keyword_only_argument_raises() -> None:
    with pytest.raises(InvalidArgumentsError):
        kw_only.remote("positional")  # type: ignore[call-arg]  # deliberately wrong
    message = ""
    try:
        ref = kw_only.remote()  # type: ignore[call-arg]  # deliberately wrong
    except InvalidArgumentsError as err:
        message = str(err)
    else:
        # Read the outcome first so no "exception never retrieved" is logged from another
        # thread while pytest reports the failure.
        try:
            actorio.get(ref, timeout=WAIT)
        except Exception as err:
            outcome = f"the call ran and failed remotely with {type(err).__name__}"
        else:
            outcome = "the call ran"
        pytest.fail(
            f"kw_only.remote() without its required keyword-only argument did not raise "
            f"InvalidArgumentsError at the call site; {outcome}"
        )
    assert "key" in message


async def test_wrong_arguments_raise_at_call_site_in_async_code() -> None:
    with pytest.raises(InvalidArgumentsError):
        square_async.remote(1, 2, 3)  # type: ignore[call-arg]  # deliberately wrong
    with pytest.raises(DirectCallError, match=r"\.remote\("):
        square_async(1)


# -- errors --------------------------------------------------------------------------------------


def _assert_task_error(err: BaseException, cls: type[BaseException], fn: str, text: str) -> None:
    assert isinstance(err, TaskError)
    assert isinstance(err, RayTaskError)
    assert isinstance(err, cls)
    assert isinstance(err.cause, cls)
    message = str(err)
    assert fn in message
    assert text in message
    assert "Traceback" in message
    assert f"in {fn}" in message  # the remote frame of the user function


def test_def_task_error_is_task_error_and_original_type() -> None:
    with pytest.raises(ValueError) as info:
        actorio.get(fail_value.remote("bad value 123"), timeout=WAIT)
    _assert_task_error(info.value, ValueError, "fail_value", "bad value 123")
    assert isinstance(info.value, TaskError)
    assert info.value.function_name == "fail_value"
    assert str(info.value.cause) == "bad value 123"


async def test_async_task_error_is_task_error_and_original_type() -> None:
    with pytest.raises(ValueError) as info:
        await asyncio.wait_for(fail_value_async.remote("async failure"), WAIT)
    _assert_task_error(info.value, ValueError, "fail_value_async", "async failure")


async def test_def_task_error_reaches_async_caller() -> None:
    with pytest.raises(ValueError) as info:
        await asyncio.wait_for(fail_value.remote("thread failure"), WAIT)
    _assert_task_error(info.value, ValueError, "fail_value", "thread failure")


def test_task_error_key_error_and_custom_error() -> None:
    with pytest.raises(KeyError) as kinfo:
        actorio.get(fail_key.remote(), timeout=WAIT)
    _assert_task_error(kinfo.value, KeyError, "fail_key", "missing-key")

    with pytest.raises(CustomError) as cinfo:
        actorio.get(fail_custom.remote(), timeout=WAIT)
    _assert_task_error(cinfo.value, CustomError, "fail_custom", "custom detail")
    assert isinstance(cinfo.value, TaskError)
    assert isinstance(cinfo.value.cause, CustomError)
    assert cinfo.value.cause.code == 7


def test_task_error_os_error_subclass() -> None:
    with pytest.raises(FileNotFoundError) as info:
        actorio.get(fail_os.remote(), timeout=WAIT)
    _assert_task_error(info.value, FileNotFoundError, "fail_os", "No such file")


def test_task_raising_timeout_error_is_not_a_get_timeout() -> None:
    with pytest.raises(TimeoutError) as info:
        actorio.get(fail_timeout.remote(), timeout=WAIT)
    _assert_task_error(info.value, TimeoutError, "fail_timeout", "user-level timeout")


def test_task_error_catchable_by_except_original_type() -> None:
    try:
        actorio.get(fail_value.remote("caught"), timeout=WAIT)
    except ValueError as err:
        caught: BaseException = err
    else:
        pytest.fail("no error raised")
    assert "caught" in str(caught)


# -- handles inside tasks ------------------------------------------------------------------------


def test_handle_passed_into_def_task() -> None:
    counter = Counter.remote()
    assert actorio.get(bump_ten_times.remote(counter), timeout=WAIT) == "submitted"
    assert actorio.get(counter.get_count.remote(), timeout=WAIT) == 10


async def test_handle_passed_into_def_task_from_async_code() -> None:
    counter = Counter.remote()
    assert await asyncio.wait_for(bump_ten_times.remote(counter), WAIT) == "submitted"
    assert await asyncio.wait_for(counter.get_count.remote(), WAIT) == 10


def test_def_task_reads_its_own_calls_in_order() -> None:
    counter = Counter.remote()
    assert actorio.get(bump_and_read.remote(counter), timeout=WAIT) == 10
    assert actorio.get(counter.increment.remote(), timeout=WAIT) == 11
