"""The package's structure, checked against the list of layers in docs/architecture.md.

Imports are read from the source (imports inside functions count; those under
``if TYPE_CHECKING:`` do not, since they never run), so the checks see what Python runs.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "actorio"
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                lines.update(n.lineno for n in ast.walk(stmt) if hasattr(n, "lineno"))
    return lines


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement names (a name imported from a package: the package,
    unless the name is a module of it)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module.split(".")
    if not str(MODULES[module]).endswith("__init__.py"):
        base = base[:-1]
    if node.level:
        base = base[: len(base) - node.level + 1]
        stem = ".".join([*base, *([node.module] if node.module else [])])
    else:
        stem = node.module or ""
    return [f"{stem}.{a.name}" if f"{stem}.{a.name}" in MODULES else stem for a in node.names]


def _imports() -> dict[str, dict[str, int]]:
    """module -> {imported name (actorio modules resolved, others as written): line}."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        edges: dict[str, int] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and node.lineno not in skip:
                for target in _targets(module, node):
                    while target not in MODULES and "." in target and target.startswith("actorio."):
                        target = target.rsplit(".", 1)[0]
                    if target != module:
                        edges.setdefault(target, node.lineno)
        graph[module] = edges
    return graph


GRAPH = _imports()


def _layers() -> list[tuple[str, list[str]]]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block is not None, "docs/architecture.md lost its ```layers block"
    layers = []
    for line in block.group(1).splitlines():
        name, _, patterns = line.partition(":")
        layers.append((name.strip(), patterns.split()))
    return layers


LAYERS = _layers()


def _layer_of(module: str) -> int | None:
    for index, (_, patterns) in enumerate(LAYERS):  # an exact name wins over a pattern
        if module in patterns:
            return index
    for index, (_, patterns) in enumerate(LAYERS):
        if any("*" in p and fnmatch.fnmatchcase(module, p) for p in patterns):
            return index
    return None


def test_every_module_has_a_layer() -> None:
    missing = [m for m in MODULES if _layer_of(m) is None]
    assert missing == [], f"add these to the layers in docs/architecture.md: {missing}"


def _upward(graph: dict[str, dict[str, int]]) -> list[str]:
    """Each import from a higher layer, as "module:line (layer) imports target (layer)"."""
    found = []
    for module, edges in graph.items():
        mine = _layer_of(module)
        for target, line in edges.items():
            theirs = _layer_of(target) if target in MODULES else None
            if mine is not None and theirs is not None and theirs > mine:
                found.append(
                    f"{module}:{line} ({LAYERS[mine][0]}) imports {target} ({LAYERS[theirs][0]})"
                )
    return found


def test_no_module_imports_from_a_higher_layer() -> None:
    assert _upward(GRAPH) == []


def test_no_import_cycle() -> None:
    internal = {m: [t for t in e if t in MODULES] for m, e in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in internal[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in internal:
        if module not in index:
            visit(module)
    assert cycles == []


def test_only_the_backends_import_ray() -> None:
    users = [
        f"{module}:{line}"
        for module, edges in GRAPH.items()
        for target, line in edges.items()
        if (target == "ray" or target.startswith("ray."))
        and not module.startswith("actorio.backends.")
    ]
    assert users == []


def test_only_the_runtime_imports_the_backends_package() -> None:
    importers = sorted(
        module
        for module, edges in GRAPH.items()
        if not module.startswith("actorio.backends")
        and any(t == "actorio.backends" or t.startswith("actorio.backends.") for t in edges)
    )
    assert importers == ["actorio._runtime"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job"


def test_an_upward_import_is_caught() -> None:
    """The check can fail: refs importing the API, or a backend importing the API."""
    graph = {"actorio._ref": {"actorio._api": 7}, "actorio.backends._local": {"actorio": 3}}
    assert _upward(graph) == [
        "actorio._ref:7 (refs) imports actorio._api (api)",
        "actorio.backends._local:3 (backends) imports actorio (surface)",
    ]
