"""Ray's ``ray.experimental`` helpers that Ray programs use: ``tqdm_ray``, a progress bar that
actors and tasks update from anywhere (``from actorio.experimental import tqdm_ray``)."""

from __future__ import annotations

from . import tqdm_ray

__all__ = ["tqdm_ray"]
