"""Imports go one way: storage ← federation ← server and web, and no module imports itself back.

Reads every module's imports (function-local ones too) from its source, so a wrong-way import
fails here before it can hide behind an import that happens to run late.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("storage", "federation", "server", "web")
# A module may import its own layer and those below it.
LAYER = {"storage": 0, "federation": 1, "server": 2, "web": 2}
# The application's routes are wired in one place.
ROUTE_WIRING = {"server.app"}


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imported(module: str, path: Path) -> Iterator[str]:
    """The project modules `module` imports. `from package import submodule` names the
    submodule, not the package: a package's `__init__` runs first either way, which is no
    cycle."""
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            submodules = [f"{source}.{alias.name}" for alias in node.names]
            names = [name for name in submodules if name in MODULES]
            if len(names) < len(submodules):
                names.append(source)
        else:
            continue
        yield from (name for name in names if name in MODULES and name != module)


GRAPH = {module: set(_imported(module, path)) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    return LAYER[module.split(".")[0]]


def test_the_graph_was_read():
    assert "server.composition" in GRAPH["server.app"]
    assert "storage.db" in GRAPH["server.composition"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_goes_up_a_layer(package: str):
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.split(".")[0] == package
        for target in targets
        if _layer(target) > _layer(module)
    )
    assert wrong == []


def test_only_the_app_wires_routes():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if target.startswith("server.api")
        and not module.startswith("server.api")
        and module not in ROUTE_WIRING
    )
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_a_cycle_would_be_found():
    graph = {module: set(targets) for module, targets in GRAPH.items()}
    graph["storage.db"].add("storage.jobs")
    graph["storage.jobs"].add("storage.db")
    assert ["storage.db", "storage.jobs"] in _cycles(graph)
