"""Every error actorio raises, under one root.

Where an error means the same as a builtin it also inherits from it, so generic handlers keep
working (``except TimeoutError`` catches ``GetTimeoutError``). Ray's names are aliases of
ours, so code written against ``ray.exceptions`` runs unchanged:

    ActorioError (RayError)
    ├── TaskError (RayTaskError)             a method or task raised (or a ref argument of it
    │                                         failed); also an instance of the original
    │                                         exception's class, with its attributes
    ├── ActorError (RayActorError)
    │   └── ActorDiedError                   the actor is dead: killed, exited, failed to construct
    ├── WorkerCrashedError                   a worker process died while it ran a task, and
    │                                         the task's retries (max_retries) are used up
    ├── GetTimeoutError         TimeoutError  actorio.get / actorio.wait ran out of time
    ├── TaskCancelledError                   the call was cancelled before it produced a result
    │   └── CallTimeoutError    TimeoutError  its per-call timeout expired first
    ├── PendingCallsLimitExceeded            the actor's mailbox is full (max_pending_calls)
    ├── BlockingCallOnLoopError RuntimeError  a blocking call on an event loop's thread
    ├── DirectCallError         TypeError     Cls() or handle.method() instead of .remote()
    ├── InvalidArgumentsError   TypeError     arguments that do not fit the signature
    ├── SerializationError      TypeError     a value that must cross processes cannot be pickled
    ├── InvalidOptionsError     ValueError    an unknown or impossible option
    ├── ActorMethodNotFoundError AttributeError  handle.no_such_method
    ├── ActorNameTakenError     ValueError    a duplicate actor name in a namespace
    ├── ActorNotFoundError      ValueError    get_actor() for a name nobody registered
    ├── NotInActorError         RuntimeError  exit_actor() outside an actor method
    ├── DeadlockError           RuntimeError  awaiting a call that waits for the awaiter
    ├── SupervisorError                      a supervisor gave up restarting its children
    ├── AlreadyInitializedError RuntimeError  actorio.init() twice
    ├── ActorPoolError          ValueError    util.ActorPool used out of order (Ray: ValueError)
    ├── MissingDependencyError  ImportError   an optional package a feature needs is missing
    ├── Empty                   queue.Empty   util.queue.Queue had no item to get
    └── Full                    queue.Full    util.queue.Queue had no room to put

Every error survives pickling with its message and extra attributes intact.
"""

from __future__ import annotations

import queue
import traceback
from typing import Any

__all__ = [
    "ActorDiedError",
    "ActorError",
    "ActorMethodNotFoundError",
    "ActorNameTakenError",
    "ActorNotFoundError",
    "ActorPoolError",
    "ActorioError",
    "AlreadyInitializedError",
    "BlockingCallOnLoopError",
    "CallTimeoutError",
    "DeadlockError",
    "DirectCallError",
    "Empty",
    "Full",
    "GetTimeoutError",
    "InvalidArgumentsError",
    "InvalidOptionsError",
    "MissingDependencyError",
    "NotInActorError",
    "PendingCallsLimitExceeded",
    "RayActorError",
    "RayError",
    "RayTaskError",
    "SerializationError",
    "SupervisorError",
    "TaskCancelledError",
    "TaskError",
    "WorkerCrashedError",
]


class ActorioError(Exception):
    """Root of every actorio error."""


class TaskError(ActorioError):
    """A method or remote function raised ``cause`` (or could not run: see ``summary``).

    Raised to the caller as an instance of a class that derives from both ``TaskError`` and
    ``type(cause)`` (see ``as_instanceof_cause()``), so ``except ValueError`` still works,
    and the original exception's attributes read through it (``err.code``), as in Ray.
    The remote traceback is kept as text because traceback objects cannot cross processes.
    """

    cause: BaseException
    function_name: str
    traceback_str: str
    #: the message's first line where actorio words it (a failed argument, a cancel)
    summary: str | None = None

    def __init__(
        self,
        function_name: str,
        cause: BaseException,
        traceback_str: str,
        summary: str | None = None,
    ) -> None:
        super().__init__(function_name, cause, traceback_str)
        self.function_name = function_name
        self.cause = cause
        self.traceback_str = traceback_str
        if summary is not None:
            self.summary = summary

    @classmethod
    def from_exception(cls, function_name: str, cause: BaseException) -> TaskError:
        """Wrap ``cause``, dropping the first traceback frame (actorio's dispatcher)."""
        tb = cause.__traceback__
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        try:
            text = "".join(traceback.format_exception(type(cause), cause, tb))
        except Exception:  # never lose the error itself over its formatting
            text = f"{type(cause).__name__}: {cause!r} (traceback could not be formatted)\n"
        return cls(function_name, cause, text).as_instanceof_cause()

    @classmethod
    def from_failed_argument(cls, function_name: str, upstream: BaseException) -> TaskError:
        """The error of a call that never ran because a ref argument failed with
        ``upstream``: it says so, and is still an instance of the original error's class."""
        tb = upstream.traceback_str if isinstance(upstream, TaskError) else ""
        why = f"{function_name} did not run: an input argument could not be computed: "
        return cls(function_name, upstream, tb, why + headline(upstream)).as_instanceof_cause()

    @classmethod
    def cancelled(cls, function_name: str, how: str) -> TaskError:
        """The error of a call cancelled while it ran: also a ``TaskCancelledError``, as
        Ray's is, and it names the call."""
        cause = TaskCancelledError(f"{function_name} was cancelled {how} while it was running")
        return cls(function_name, cause, "", str(cause)).as_instanceof_cause()

    def as_instanceof_cause(self) -> TaskError:
        """Return an equivalent error that is also an instance of ``type(self.cause)``."""
        # A relayed remote error (an actor re-raising what another one raised) is a TaskError
        # already: build on the innermost original class, so `except ValueError` still works.
        root = _root(self)
        cause_cls = type(root)
        if isinstance(self, cause_cls) or not issubclass(cause_cls, Exception):
            # (a CancelledError or KeyboardInterrupt cause stays a plain TaskError: one that
            # is also a CancelledError would look like a cancellation to whoever awaits it)
            return self
        dual = _dual_class(cause_cls)
        if dual is None:
            return self
        try:
            # The cause class's own __new__ (OSError's builds its C fields), without arguments.
            err: TaskError = dual.__new__(dual)
            if isinstance(root, OSError):  # C fields: errno and strerror come from its args
                OSError.__init__(err, *root.args)
                err.filename, err.filename2 = root.filename, root.filename2  # type: ignore[attr-defined]
        except Exception:  # a __new__ that insists on arguments: keep the plain TaskError
            return self
        # The cause's instance attributes, so that they win over class-level defaults; the
        # rest (slots, properties) is read through __getattr__.
        state = getattr(root, "__dict__", None)
        if state:
            err.__dict__.update(state)
        err.args = self.cause.args
        err.function_name = self.function_name
        err.cause = self.cause
        err.traceback_str = self.traceback_str
        if self.summary is not None:
            err.summary = self.summary
        err.__cause__ = self.cause
        return err

    def __getattr__(self, name: str) -> Any:
        # Only reached when the normal lookup failed: the original exception's attributes.
        if name.startswith("__") or name in _OWN_FIELDS:
            raise AttributeError(name)
        try:
            cause = object.__getattribute__(self, "cause")
        except AttributeError:  # not built yet (unpickling, copying)
            raise AttributeError(name) from None
        try:
            return getattr(_root(cause), name)
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__!r} object (and the {type(_root(cause)).__name__} it "
                f"wraps) has no attribute {name!r}"
            ) from None

    def headline(self) -> str:
        """The message without the remote traceback."""
        cause = self.cause
        return self.summary or f"{self.function_name} raised {type(cause).__name__}: {cause}"

    def __str__(self) -> str:
        tb = self.traceback_str.rstrip()
        return f"{self.headline()}\n\nRemote traceback:\n{tb}" if tb else self.headline()

    def __reduce__(self) -> tuple[Any, ...]:
        cause = self.cause
        return (
            _rebuild_task_error,
            (self.function_name, _portable(cause), self.traceback_str, self.summary),
        )


_OWN_FIELDS = frozenset({"cause", "function_name", "traceback_str", "summary"})


def _root(err: BaseException) -> BaseException:
    """The original exception under relayed TaskErrors."""
    while isinstance(err, TaskError):
        err = err.cause
    return err


def headline(exc: BaseException) -> str:
    """One line about ``exc``: a TaskError's own first line, else ``Type: message``."""
    if isinstance(exc, TaskError):
        return exc.headline()
    return f"{type(exc).__name__}: {exc}"


_DUALS: dict[type[BaseException], type[TaskError] | None] = {}


def _dual_class(cause_cls: type[BaseException]) -> type[TaskError] | None:
    """One cached ``TaskError`` x ``cause_cls`` class per cause class; None if impossible."""
    try:
        return _DUALS[cause_cls]
    except KeyError:
        pass
    dual: type[TaskError] | None
    try:
        dual = type(
            f"TaskError({cause_cls.__name__})",
            (TaskError, cause_cls),
            {
                "__init__": TaskError.__init__,
                "__str__": TaskError.__str__,
                "__reduce__": TaskError.__reduce__,
                "__module__": "actorio.exceptions",
            },
        )
    except TypeError:  # final classes, or C layouts that cannot be combined with ours
        dual = None
    _DUALS[cause_cls] = dual
    return dual


def _rebuild_task_error(
    function_name: str, cause: BaseException, tb: str, summary: str | None = None
) -> TaskError:
    return TaskError(function_name, cause, tb, summary).as_instanceof_cause()


class _Portable:
    """Pickles an exception that uses the default pickling so that it always loads.

    That default rebuilds it as ``cls(*args)``, which fails for a class whose constructor
    takes other arguments than it passes on (``MyError(msg, code)`` calling
    ``super().__init__(msg)``): then the error would be lost where it is unpickled.
    """

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __reduce__(self) -> tuple[Any, ...]:
        exc = self.exc
        return (_rebuild_error, (type(exc), exc.args, getattr(exc, "__dict__", None) or None))


def _portable(exc: BaseException) -> Any:
    cls = type(exc)
    if (
        cls.__reduce__ is BaseException.__reduce__
        and cls.__reduce_ex__ is BaseException.__reduce_ex__
        and cls.__setstate__ is BaseException.__setstate__
    ):
        return _Portable(exc)
    return exc  # it pickles its own way (actorio's errors, OSError, ...)


def _rebuild_error(
    cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any] | None
) -> BaseException:
    try:
        err = cls(*args)
    except Exception:  # its constructor wants other arguments: build it without calling it
        err = cls.__new__(cls, *args)
        err.args = args
    if state:
        err.__dict__.update(state)
    return err


class ActorError(ActorioError):
    """The actor could not run the call."""


class _WithCause(ActorioError):
    """An error with an optional ``cause`` that survives pickling (as ``__cause__`` does not)."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.cause))


class ActorDiedError(_WithCause, ActorError):
    """The actor is dead: it was killed, called ``exit_actor()``, or its constructor raised.

    ``cause`` holds the constructor's exception (with its remote traceback) when there was one;
    ``why`` the reason alone ("it called actorio.exit_actor()"), without the actor's
    description, where actorio wrote the message (None otherwise).
    """

    why: str | None = None

    def __init__(
        self, message: str, cause: BaseException | None = None, why: str | None = None
    ) -> None:
        super().__init__(message, cause)
        if why is not None:
            self.why = why

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.cause, self.why))


class WorkerCrashedError(_WithCause):
    """The worker process running a task died (a crash, a signal, ``os._exit``) and the
    task's ``max_retries`` allow no further attempt. The message names the task and how the
    process ended; ``cause`` is the worker's death (an ``ActorDiedError``). Not an
    ``ActorError``, as in Ray: no actor of the caller's died."""


class GetTimeoutError(ActorioError, TimeoutError):
    """``actorio.get`` or ``actorio.wait`` reached its timeout; the call itself goes on."""


class TaskCancelledError(ActorioError):
    """The call was cancelled before it produced a result."""


class CallTimeoutError(TaskCancelledError, TimeoutError):
    """The call's ``timeout`` option expired before it finished; the call was cancelled."""


class PendingCallsLimitExceeded(ActorioError):
    """The actor already holds ``max_pending_calls`` calls that have not finished."""


class BlockingCallOnLoopError(ActorioError, RuntimeError):
    """A blocking call (``actorio.get``, ``actorio.wait``) was made on an event loop's thread.

    Blocking there would freeze the loop, and with it the actor that should answer.
    """


class DirectCallError(ActorioError, TypeError):
    """An actor class or method was called directly instead of through ``.remote()``."""


class InvalidArgumentsError(ActorioError, TypeError):
    """The arguments do not fit the signature of the method, task or actorio function."""


class SerializationError(ActorioError, TypeError):
    """An argument or result of a process actor cannot be pickled; the actor is unaffected."""


class InvalidOptionsError(ActorioError, ValueError):
    """An option that actorio does not know, or a combination it cannot honour."""


class ActorMethodNotFoundError(ActorioError, AttributeError):
    """The actor class has no method of that name."""


class ActorNameTakenError(ActorioError, ValueError):
    """Another live actor already has this name in this namespace."""


class ActorNotFoundError(ActorioError, ValueError):
    """No live actor has this name in this namespace."""


class NotInActorError(ActorioError, RuntimeError):
    """An actor-only function such as ``exit_actor()`` was called outside an actor method."""


class DeadlockError(ActorioError, RuntimeError):
    """Awaiting this call would never end: it waits for a slot that the awaiter holds."""


class SupervisorError(_WithCause):
    """A supervisor saw more child failures than its restart intensity allows; ``cause`` is
    the last failure."""


class AlreadyInitializedError(ActorioError, RuntimeError):
    """``actorio.init()`` was called while actorio was already running."""


class MissingDependencyError(ActorioError, ImportError):
    """A feature needs an optional package that is not installed; the message says which
    ``pip install`` adds it."""


class ActorPoolError(ActorioError, ValueError):
    """An ``ActorPool`` was asked for something it cannot do in its state: ``get_next()``
    after ``get_next_unordered()`` skipped past it, ``push()`` of an actor it already holds,
    or waiting for work when it has no actor left to run it."""


class Empty(ActorioError, queue.Empty):
    """``actorio.util.queue.Queue`` had no item to get (now, or within the timeout).

    Also a ``queue.Empty``, as Ray's is, so code written for either queue catches it.
    """


class Full(ActorioError, queue.Full):
    """``actorio.util.queue.Queue`` had no room to put (now, or within the timeout).

    Also a ``queue.Full``, as Ray's is, so code written for either queue catches it.
    """


# Ray's spellings, so ``from actorio import exceptions as ray_exceptions`` reads the same.
RayError = ActorioError
"""Ray's name for ``ActorioError``, the root of every actorio error."""
RayTaskError = TaskError
"""Ray's name for ``TaskError``: a method or remote function raised."""
RayActorError = ActorError
"""Ray's name for ``ActorError``: the actor could not run the call."""
