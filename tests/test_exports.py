"""The public surface: __all__, docstrings, and the module public classes report."""

from __future__ import annotations

import importlib.metadata
import inspect
import pickle
import types
from typing import Any

import pytest

import actorio
from actorio import exceptions, util

PUBLIC_CLASSES = [
    name for name in actorio.__all__ if isinstance(getattr(actorio, name, None), type)
]


def _documented(obj: Any) -> bool:
    doc = inspect.getdoc(obj)
    return bool(doc and doc.strip())


def test_all_is_sorted_unique_and_every_name_exists() -> None:
    names = list(actorio.__all__)
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    missing = [n for n in names if not hasattr(actorio, n)]
    assert missing == []


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, Any] = {}
    exec("from actorio import *", namespace)
    namespace.pop("__builtins__", None)
    assert set(namespace) == set(actorio.__all__)


def test_all_covers_the_ray_verbs() -> None:
    for verb in ("remote", "get", "wait", "put", "kill", "get_actor", "init", "shutdown"):
        assert verb in actorio.__all__
        assert callable(getattr(actorio, verb))


def test_submodule_all_names_exist() -> None:
    for module in (exceptions, util):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


@pytest.mark.parametrize("name", actorio.__all__)
def test_every_public_name_has_a_docstring(name: str) -> None:
    obj = getattr(actorio, name)
    if isinstance(obj, types.ModuleType) or callable(obj):
        assert _documented(obj), f"actorio.{name} has no docstring"


@pytest.mark.parametrize("name", [*exceptions.__all__, *util.__all__])
def test_every_submodule_public_name_has_a_docstring(name: str) -> None:
    module = exceptions if name in exceptions.__all__ else util
    assert _documented(getattr(module, name)), f"{module.__name__}.{name} has no docstring"


def _public_members(cls: type) -> list[tuple[str, Any]]:
    """Public methods and properties that the class itself defines (not inherited ones)."""
    members = []
    for attr, value in vars(cls).items():
        if attr.startswith("_"):
            continue
        if isinstance(value, property):
            members.append((attr, value.fget))
        elif isinstance(value, staticmethod | classmethod):
            members.append((attr, value.__func__))
        elif inspect.isfunction(value):
            members.append((attr, value))
    return members


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_public_methods_of_public_classes_have_docstrings(name: str) -> None:
    cls = getattr(actorio, name)
    undocumented = [attr for attr, fn in _public_members(cls) if not _documented(fn)]
    assert undocumented == [], f"actorio.{name} methods without a docstring: {undocumented}"


def test_public_classes_are_found() -> None:
    assert set(PUBLIC_CLASSES) >= {
        "ActorClass",
        "ActorHandle",
        "ActorMethod",
        "ObjectRef",
        "RemoteFunction",
        "RuntimeContext",
    }


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_public_classes_report_module_actorio(name: str) -> None:
    cls = getattr(actorio, name)
    assert cls.__module__ == "actorio"
    assert cls.__qualname__ == name
    # Picklable by reference under that module.
    assert pickle.loads(pickle.dumps(cls)) is cls


def test_public_class_reprs_use_actorio_module() -> None:
    assert repr(actorio.ObjectRef) == "<class 'actorio.ObjectRef'>"
    assert repr(actorio.ActorHandle) == "<class 'actorio.ActorHandle'>"


def test_exception_classes_live_in_actorio_exceptions() -> None:
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert cls.__module__ == "actorio.exceptions"
        assert getattr(exceptions, cls.__qualname__) is cls


def test_version_matches_installed_metadata() -> None:
    assert isinstance(actorio.__version__, str)
    assert actorio.__version__ == importlib.metadata.version("actorio")
