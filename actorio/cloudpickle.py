"""The cloudpickle module, as ``ray.cloudpickle``: pickles what the standard pickler cannot
(lambdas, local classes, anything defined in ``__main__``); ``loads`` is ``pickle.loads``.

It is the cloudpickle package actorio depends on (worker processes get what it pickles).
"""

from __future__ import annotations

from pickle import DEFAULT_PROTOCOL, HIGHEST_PROTOCOL, PicklingError, UnpicklingError

from cloudpickle import (
    CloudPickler,
    Pickler,
    __version__,
    dump,
    dumps,
    load,
    loads,
    register_pickle_by_value,
    unregister_pickle_by_value,
)

__all__ = [
    "DEFAULT_PROTOCOL",
    "HIGHEST_PROTOCOL",
    "CloudPickler",
    "Pickler",
    "PicklingError",
    "UnpicklingError",
    "__version__",
    "dump",
    "dumps",
    "load",
    "loads",
    "register_pickle_by_value",
    "unregister_pickle_by_value",
]
