"""Whether the event loop running in this thread is one actorio may use: not in a notebook.

A Jupyter kernel runs each cell's code inside its own event loop, in the cell's thread, so
plain cell code looks like async code; yet it is written as a script, with blocking ``get``
calls that the kernel's loop, blocked by the cell, could never serve. :func:`caller_loop`
therefore reports no loop there: cells get the runtime loop in its own thread, as scripts do.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from asyncio import AbstractEventLoop

__all__ = ["KERNEL_LOOPS", "caller_loop"]

_running_loop = asyncio._get_running_loop
#: the loops found to be a notebook kernel's (a kernel has one loop for its whole life)
KERNEL_LOOPS: set[AbstractEventLoop] = set()


def caller_loop() -> AbstractEventLoop | None:
    """The event loop running in this thread, unless it is a notebook kernel's (None)."""
    loop = _running_loop()
    if loop is None or "ipykernel" not in sys.modules:
        return loop
    if loop in KERNEL_LOOPS or _is_kernel_loop():
        KERNEL_LOOPS.add(loop)
        return None
    return loop


def _is_kernel_loop() -> bool:
    """True in an IPython kernel's cell (its loop runs in the main thread)."""
    if "ipykernel" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None
