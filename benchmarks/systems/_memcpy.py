"""``memcpy``: the floor of moving bulk_data's array, one ``np.copyto`` of it in this process;
what any transfer to another process pays at least (the array has to get into memory the
other side can read)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ._base import SyncSystem

__all__ = ["Memcpy"]


class Memcpy(SyncSystem):
    name = "memcpy"
    summary = "floor: one np.copyto of bulk_data's array into a fresh buffer, page faults included"
    requires = ("numpy",)
    not_applicable: ClassVar[Mapping[str, str]] = dict.fromkeys(
        (
            "pingpong",
            "pipelined",
            "n_n",
            "async_concurrency",
            "threaded_blocking",
            "cpu_parallel",
            "sync_bridge",
            "blocking_actors",
            "memory",
            "startup",
        ),
        "a floor for moving an array, not an actor system",
    )

    def copy(self, src: Any, dst: Any = None) -> Any:
        """``np.copyto`` into ``dst``, or into a fresh ``np.empty_like(src)``, whose pages the
        kernel maps as the copy first writes them (a transfer into new memory pays that too)."""
        import numpy as np

        out = np.empty_like(src) if dst is None else dst
        np.copyto(out, src)
        return out
