"""The project's import graph, read from its source with ``ast`` (nothing is imported): which module
imports which, and the circles in it.

Every import statement counts, wherever it stands: at the top of a module, inside a function (a
"lazy" import) or under ``if TYPE_CHECKING:``. Each of those still says that one module needs the
other; a circle that only type checkers or a late call walk is still a circle in the design.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the project's packages (pyproject.toml's [tool.setuptools.packages.find]); tests/ is not one of them
PACKAGES = ("daemon", "drivers", "hal", "signaling", "ivr", "fax", "recorder", "mgmt_tui", "sim")


@dataclass(frozen=True)
class Import:
    """``source`` imports ``target`` (both dotted module names) at ``place`` (``daemon/x.py:12``)."""

    source: str
    target: str
    place: str


def project_modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``: dotted name (a package by its ``__init__``) -> file."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imported_names(module: str, path: Path) -> list[tuple[str, int]]:
    """The dotted names an import statement of ``module`` (its file ``path``) may refer to, with the
    line: for ``from a.b import c`` both ``a.b.c`` (a submodule) and ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            origin = ".".join(base + ([node.module] if node.module else []))
            names += [(f"{origin}.{alias.name}", node.lineno) for alias in node.names]
    return names


def imports(modules: dict[str, Path], root: Path = ROOT) -> list[Import]:
    """Each import from one module of ``modules`` to another (the longest dotted prefix that is a module:
    ``from daemon.api import client`` is an import of ``daemon.api.client``, ``from daemon.api.client
    import ApiClient`` one of ``daemon.api.client``); a module importing itself is no edge."""
    found: dict[tuple[str, str], Import] = {}
    for module, path in modules.items():
        for name, line in _imported_names(module, path):
            target = name
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module and (module, target) not in found:
                found[module, target] = Import(module, target, f"{path.relative_to(root)}:{line}")
    return list(found.values())


def circles(edges: list[Import]) -> list[list[Import]]:
    """The import circles among ``edges``, each as the imports that make it, in order: for every module
    on a circle, one shortest circle through it (a circle found from two of its modules, once)."""
    graph: dict[str, dict[str, Import]] = {}
    for edge in edges:
        graph.setdefault(edge.source, {})[edge.target] = edge
    found: list[list[Import]] = []
    seen: set[frozenset[Import]] = set()
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        for start in component:
            circle = _shortest_circle(graph, start, set(component))
            if frozenset(circle) not in seen:
                seen.add(frozenset(circle))
                found.append(circle)
    return found


def _strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a deep package must not hit Python's recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _shortest_circle(graph: dict[str, dict[str, Import]], start: str, within: set[str]) -> list[Import]:
    """A shortest path of imports from ``start`` back to ``start`` through modules of ``within``."""
    came_from: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target, edge in sorted(graph.get(node, {}).items()):
                if target == start:
                    path = [edge]
                    while path[0].source != start:
                        path.insert(0, came_from[path[0].source])
                    return path
                if target in within and target not in came_from:
                    came_from[target] = edge
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in a strongly connected set but on no circle")


def describe(circle: list[Import]) -> str:
    """``a -> b -> a`` and where each of those imports stands (``daemon/a.py:12``)."""
    chain = " -> ".join([circle[0].source] + [edge.target for edge in circle])
    return f"{chain} ({', '.join(f'{edge.place} imports {edge.target}' for edge in circle)})"
