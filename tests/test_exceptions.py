"""actorio.exceptions: hierarchy, Ray aliases, pickling, and TaskError's dual classes."""

from __future__ import annotations

import gc
import pickle
import weakref
from typing import Any

import pytest

import actorio
from actorio import exceptions
from actorio.exceptions import (
    ActorDiedError,
    ActorError,
    ActorioError,
    GetTimeoutError,
    TaskError,
)


class TwoArgError(Exception):
    """A user exception whose constructor takes two arguments."""

    def __init__(self, a: int, b: str) -> None:
        super().__init__(a, b)
        self.a = a
        self.b = b


class SlottedError(Exception):
    __slots__ = ("code",)


class FinalError(Exception):
    """Refuses subclasses, so no TaskError x FinalError class can exist."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError(f"{cls.__name__}: FinalError cannot be subclassed")


def _public_classes() -> list[type[BaseException]]:
    seen: list[type[BaseException]] = []
    for name in exceptions.__all__:
        obj = getattr(exceptions, name)
        assert isinstance(obj, type), name
        if obj not in seen:
            seen.append(obj)
    return seen


def _raised(exc: BaseException) -> BaseException:
    """``exc`` with a real traceback, as the dispatcher would catch it."""
    try:
        raise exc
    except BaseException as caught:
        return caught


def _message_instance(cls: type[BaseException]) -> BaseException:
    if cls is TaskError:
        return TaskError.from_exception("some_function", _raised(ValueError("inner message")))
    if cls is ActorDiedError:
        return ActorDiedError("The actor is dead: test message")
    return cls(f"{cls.__name__}: test message")


# -- hierarchy ------------------------------------------------------------------------------------


def test_exceptions_all_is_sorted_and_complete() -> None:
    assert list(exceptions.__all__) == sorted(exceptions.__all__)
    for name in exceptions.__all__:
        assert hasattr(exceptions, name), name
    defined = {
        name
        for name, obj in vars(exceptions).items()
        if isinstance(obj, type)
        and issubclass(obj, BaseException)
        and not name.startswith("_")
        and obj.__module__ == exceptions.__name__
    }
    assert defined <= set(exceptions.__all__)


@pytest.mark.parametrize("name", exceptions.__all__)
def test_every_public_exception_derives_from_actorio_error(name: str) -> None:
    cls = getattr(exceptions, name)
    assert issubclass(cls, ActorioError)
    assert issubclass(cls, Exception)


def test_ray_aliases_are_the_same_objects() -> None:
    assert exceptions.RayError is ActorioError
    assert exceptions.RayTaskError is TaskError
    assert exceptions.RayActorError is ActorError
    assert issubclass(ActorDiedError, exceptions.RayActorError)


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("GetTimeoutError", TimeoutError),
        ("BlockingCallOnLoopError", RuntimeError),
        ("DirectCallError", TypeError),
        ("InvalidArgumentsError", TypeError),
        ("InvalidOptionsError", ValueError),
        ("ActorMethodNotFoundError", AttributeError),
        ("ActorNameTakenError", ValueError),
        ("ActorNotFoundError", ValueError),
        ("NotInActorError", RuntimeError),
        ("AlreadyInitializedError", RuntimeError),
    ],
)
def test_errors_also_derive_from_the_matching_builtin(
    name: str, builtin: type[BaseException]
) -> None:
    cls = getattr(exceptions, name)
    assert issubclass(cls, builtin)
    assert issubclass(cls, ActorioError)


def test_get_timeout_error_is_caught_as_timeout_error() -> None:
    with pytest.raises(TimeoutError, match="slow"):
        raise GetTimeoutError("too slow")


# -- pickling -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", _public_classes(), ids=lambda c: c.__name__)
def test_every_exception_pickles_with_type_and_message(cls: type[BaseException]) -> None:
    exc = _message_instance(cls)
    loaded = pickle.loads(pickle.dumps(exc))
    assert type(loaded) is type(exc)
    assert isinstance(loaded, cls)
    assert str(loaded) == str(exc)
    assert loaded.args == exc.args


def test_actor_died_error_pickles_with_its_cause() -> None:
    cause = TaskError.from_exception("Cls.__init__", _raised(ValueError("ctor failed")))
    err = ActorDiedError("The actor is dead: its constructor raised.", cause)
    assert err.__cause__ is cause
    loaded = pickle.loads(pickle.dumps(err))
    assert type(loaded) is ActorDiedError
    assert str(loaded) == "The actor is dead: its constructor raised."
    assert isinstance(loaded.cause, TaskError)
    assert isinstance(loaded.cause, ValueError)
    assert "ctor failed" in str(loaded.cause)
    assert loaded.__cause__ is loaded.cause
    assert ActorDiedError("no cause").cause is None


def test_plain_task_error_pickles() -> None:
    cause = ValueError("direct")
    err = TaskError("fn", cause, "Traceback (most recent call last):\nValueError: direct\n")
    loaded = pickle.loads(pickle.dumps(err))
    assert isinstance(loaded, TaskError)
    assert str(loaded) == str(err)
    assert loaded.function_name == "fn"
    assert type(loaded.cause) is ValueError
    assert loaded.cause.args == ("direct",)
    assert loaded.traceback_str == err.traceback_str


# -- TaskError.from_exception --------------------------------------------------------------------


CAUSES = [
    pytest.param(lambda: ValueError("bad value"), ValueError, id="ValueError"),
    pytest.param(lambda: KeyError("missing"), KeyError, id="KeyError"),
    pytest.param(lambda: OSError("disk on fire"), OSError, id="OSError"),
    pytest.param(lambda: TimeoutError("user timeout"), TimeoutError, id="TimeoutError"),
    pytest.param(lambda: TwoArgError(3, "three"), TwoArgError, id="custom_two_args"),
    pytest.param(lambda: SlottedError("slotted"), SlottedError, id="custom_slots"),
]


@pytest.mark.parametrize(("make", "cls"), CAUSES)
def test_from_exception_is_instance_of_cause_class(make: Any, cls: type[BaseException]) -> None:
    cause = _raised(make())
    err = TaskError.from_exception("my_function", cause)
    assert isinstance(err, TaskError)
    assert isinstance(err, exceptions.RayTaskError)
    assert isinstance(err, cls)
    assert err.cause is cause
    assert err.__cause__ is cause
    assert err.function_name == "my_function"
    assert err.args == cause.args
    text = str(err)
    assert text.startswith(f"my_function raised {cls.__name__}: ")
    assert str(cause) in text
    assert "Remote traceback:" in text
    assert "_raised" in text  # the frame that raised
    # One class per cause class, reused.
    again = TaskError.from_exception("other", _raised(make()))
    assert type(again) is type(err)


@pytest.mark.parametrize(("make", "cls"), CAUSES)
def test_from_exception_survives_pickling(make: Any, cls: type[BaseException]) -> None:
    cause = _raised(make())
    err = TaskError.from_exception("my_function", cause)
    loaded = pickle.loads(pickle.dumps(err))
    assert type(loaded) is type(err)
    assert isinstance(loaded, TaskError)
    assert isinstance(loaded, cls)
    assert str(loaded) == str(err)
    assert loaded.function_name == "my_function"
    assert loaded.traceback_str == err.traceback_str
    assert type(loaded.cause) is cls
    assert loaded.cause.args == cause.args
    assert loaded.args == err.args
    with pytest.raises(cls):
        raise loaded


def test_from_exception_keeps_custom_exception_attributes() -> None:
    err = TaskError.from_exception("f", _raised(TwoArgError(5, "five")))
    loaded = pickle.loads(pickle.dumps(err))
    assert isinstance(loaded, TwoArgError)
    assert isinstance(loaded, TaskError)
    assert isinstance(loaded.cause, TwoArgError)
    assert loaded.cause.a == 5
    assert loaded.cause.b == "five"


def test_from_exception_drops_the_dispatcher_frame() -> None:
    def user_code() -> None:
        raise ValueError("from user code")

    def dispatcher() -> BaseException:
        try:
            user_code()
        except ValueError as exc:
            return exc
        raise AssertionError("unreachable")

    err = TaskError.from_exception("user_code", dispatcher())
    assert "in user_code" in err.traceback_str
    assert "in dispatcher" not in err.traceback_str
    assert "ValueError: from user code" in err.traceback_str


def test_from_exception_without_traceback() -> None:
    err = TaskError.from_exception("f", ValueError("never raised"))
    assert isinstance(err, ValueError)
    assert "ValueError: never raised" in err.traceback_str


def test_uncombinable_cause_falls_back_to_plain_task_error() -> None:
    # Python exception classes always share BaseException's layout with TaskError, so
    # __slots__ alone cannot make them incompatible (SlottedError above combines fine);
    # a class that refuses subclasses can never be combined.
    cause = _raised(FinalError("cannot combine"))
    err = TaskError.from_exception("f", cause)
    assert type(err) is TaskError
    assert not isinstance(err, FinalError)
    assert err.cause is cause
    assert "f raised FinalError: cannot combine" in str(err)
    loaded = pickle.loads(pickle.dumps(err))
    assert type(loaded) is TaskError
    assert str(loaded) == str(err)
    assert type(loaded.cause) is FinalError


def test_task_error_from_a_remote_call_pickles() -> None:
    @actorio.remote
    def fails() -> None:
        raise TwoArgError(1, "remote")

    with pytest.raises(TwoArgError) as info:
        actorio.get(fails.remote(), timeout=10)
    loaded = pickle.loads(pickle.dumps(info.value))
    assert isinstance(loaded, TaskError)
    assert isinstance(loaded, TwoArgError)
    assert str(loaded) == str(info.value)
    assert "fails" in str(loaded)


# -- the original exception's attributes, through TaskError -------------------------------------


class PassesLess(Exception):
    """Passes on less than it takes: the default pickling cannot rebuild it (cls(*args))."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class WithDefault(Exception):
    status = 500  # a class-level default that instances override

    @property
    def doubled(self) -> int:
        return self.status * 2


def test_task_error_reads_the_causes_attributes() -> None:
    cause = WithDefault("teapot")
    cause.status = 418
    err = TaskError.from_exception("f", _raised(cause))
    assert err.status == 418  # the instance's value, not the class default
    assert err.doubled == 836  # a property of the cause's class, on its values
    slotted = SlottedError("s")
    slotted.code = 3  # type: ignore[attr-defined]  # an unannotated slot
    assert TaskError.from_exception("f", _raised(slotted)).code == 3  # a slot, read through
    relayed = TaskError.from_exception("g", TaskError.from_exception("f", _raised(cause)))
    assert relayed.status == 418  # through a relayed error, from the original
    with pytest.raises(AttributeError, match=r"\(and the WithDefault it wraps\) has no .*'nope'"):
        err.nope


def test_an_os_errors_fields_are_kept() -> None:
    err = TaskError.from_exception("f", _raised(FileNotFoundError(2, "No such file", "a.txt")))
    assert isinstance(err, FileNotFoundError)
    assert (err.errno, err.strerror, err.filename) == (2, "No such file", "a.txt")


def test_an_error_that_passes_on_less_than_it_takes_survives_pickling() -> None:
    err = TaskError.from_exception("f", _raised(PassesLess("disk full", 28)))
    with pytest.raises(TypeError):  # what the default pickling does with it
        pickle.loads(pickle.dumps(err.cause))
    loaded = pickle.loads(pickle.dumps(err))
    assert isinstance(loaded, TaskError)
    assert isinstance(loaded, PassesLess)
    assert isinstance(loaded.cause, PassesLess)
    assert (loaded.code, loaded.cause.code, loaded.cause.args) == (28, 28, ("disk full",))
    assert str(loaded) == str(err)


def test_failed_argument_and_cancelled_errors() -> None:
    upstream = TaskError.from_exception("f", _raised(KeyError("k")))
    err = TaskError.from_failed_argument("g", upstream)
    assert isinstance(err, KeyError)
    assert err.function_name == "g"
    assert err.cause is upstream
    assert str(err).startswith("g did not run: an input argument could not be computed: f raised")
    assert err.traceback_str == upstream.traceback_str
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)
    assert isinstance(again, KeyError)
    cancelled = TaskError.cancelled("A.m", "with actorio.cancel()")
    assert isinstance(cancelled, exceptions.TaskCancelledError)
    assert str(cancelled) == "A.m was cancelled with actorio.cancel() while it was running"
    assert str(pickle.loads(pickle.dumps(cancelled))) == str(cancelled)


@actorio.remote
class Mortal:
    def ping(self) -> str:
        return "pong"


class Payload:
    """Something a caller's frame holds while it reads a dead actor's error."""


def test_a_dead_actors_error_does_not_keep_its_callers_frames(backend: str) -> None:
    """Every call to a dead actor fails with the death on record; raised as one shared
    object, it would keep the frames of whoever raised it last (and what they hold)."""
    h = Mortal.options(backend=backend).remote()
    assert actorio.get(h.ping.remote(), timeout=30) == "pong"
    actorio.kill(h)

    def caller() -> tuple[weakref.ref[Payload], str]:
        held = Payload()
        try:
            actorio.get(h.ping.remote(), timeout=30)
        except ActorDiedError as err:
            return weakref.ref(held), str(err)
        raise AssertionError("the call to a dead actor succeeded")

    for _ in range(2):  # the second call reads the record the first one raised
        watch, message = caller()
        gc.collect()
        assert watch() is None, "the caller's frame is kept alive by the actor's death record"
        assert "killed with actorio.kill()" in message
