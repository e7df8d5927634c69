"""What every backend provides, so the core never imports a concrete one."""

from __future__ import annotations

from typing import Any, Protocol

from .._spec import MethodSpec

__all__ = ["STOP_HOOK_TIMEOUT_S", "ActorCore", "ActorExit", "checked_remote"]

#: Seconds an async ``__actorio_stop__`` hook may take before actorio stops waiting for it.
STOP_HOOK_TIMEOUT_S = 10.0


class ActorExit(BaseException):
    """Raised by ``actorio.exit_actor()``; a BaseException so ``except Exception`` lets it by."""


class ActorCore(Protocol):
    """The backend's side of an actor, as seen by handles and the registry."""

    actor_id: str
    name: str | None
    namespace: str
    spec: Any  # the ClassSpec of the actor's class

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Run the constructor (asynchronously); calls queue behind it."""

    def submit(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        num_returns: int,
        group: str | None,
    ) -> Any:
        """Queue one call; return its ref (or list of refs, or None for num_returns=0)."""

    def kill(self, err: Any) -> None:
        """Make the actor dead now; queued and running calls fail with ``err``."""

    @property
    def alive(self) -> bool:
        """False once the actor is dead."""

    def describe(self) -> str:
        """A short human description for error messages."""


def checked_remote(
    core: Any, method: MethodSpec, num_returns: int, group: str | None, options: Any
) -> Any:
    """A plain ``remote(*args, **kwargs)``: check the arguments, then ``core.submit``."""

    def remote(*args: Any, **kwargs: Any) -> Any:
        method.check(args, kwargs)
        return core.submit(method, args, kwargs, num_returns, group, options)

    return remote
