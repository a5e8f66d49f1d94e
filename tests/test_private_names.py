"""Architecture rule of DESIGN.md: no module reaches into another module's private (``_underscore``) names: an attribute ``x._name``
where ``x`` is not ``self``, ``cls`` or ``super()``, a ``getattr``/``setattr``/``hasattr`` of such a
name, or ``from m import _name``. What counts as the same module: a class's own names (its methods,
class attributes and ``self._x`` attributes) may be used on any instance of it inside that class
(``other._x`` in a method of the class that defines ``_x``); a module-level function may use the
private names of any class of its own module. Dunders and names made of underscores only (``_``)
are not private.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.support.import_graph import ROOT, project_modules

ATTR_FUNCS = {"getattr", "setattr", "hasattr", "delattr"}


def _private(name: str) -> bool:
    return name.startswith("_") and name.strip("_") != "" and not (name.startswith("__") and name.endswith("__"))


def _class_names(cls: ast.ClassDef) -> set[str]:
    """What a class defines: methods, nested classes, class attributes, attributes assigned on ``self``/``cls``."""
    names: set[str] = set()
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    for node in ast.walk(cls):
        if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            names.add(node.attr)
    return names


def _own_receiver(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


@dataclass(frozen=True)
class Reach:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def private_reaches(source: str, path: str = "<source>") -> list[Reach]:
    """Every use in ``source`` (one module) of a private name that is not its own (see the module docstring)."""
    tree = ast.parse(source, filename=path)
    module_classes = {n for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for n in _class_names(node)}
    found: list[Reach] = []

    def check(node: ast.AST, allowed: set[str]) -> None:
        if isinstance(node, ast.ClassDef):
            allowed = _class_names(node)
        if isinstance(node, ast.Attribute) and _private(node.attr) and not _own_receiver(node.value) \
                and node.attr not in allowed:
            found.append(Reach(path, node.lineno, f"{ast.unparse(node.value)}.{node.attr}"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ATTR_FUNCS
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str) and _private(node.args[1].value)
              and not _own_receiver(node.args[0]) and node.args[1].value not in allowed):
            found.append(Reach(path, node.lineno, f"{node.func.id}({ast.unparse(node.args[0])}, "
                                                   f"{node.args[1].value!r})"))
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.extend(Reach(path, node.lineno, f"from {module} import {alias.name}")
                         for alias in node.names if _private(alias.name))
        for child in ast.iter_child_nodes(node):
            check(child, allowed)

    check(tree, module_classes)
    return found


def project_reaches(modules: dict[str, Path]) -> list[Reach]:
    """Every such use in ``modules`` (``tests.support.import_graph.project_modules``)."""
    found: list[Reach] = []
    for path in modules.values():
        found += private_reaches(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    modules = project_modules()
    assert "daemon.calls.control" in modules and "hal" in modules  # the source was found where it is
    found = project_reaches(modules)
    assert not found, (f"{len(found)} use(s) of another module's private names (make the name public, or "
                       "ask its owner through a public verb or hook):\n" + "\n".join(map(str, found)))


def test_private_name_check_sees_each_kind_of_reach() -> None:
    source = '''
from daemon.calls.control import _queue_of, CallControl
import os


class Owner:
    def __init__(self) -> None:
        self._mine = 1

    def _helper(self) -> int:
        return 2

    def peer(self, other: "Owner") -> int:
        return other._mine + other._helper() + super()._base() + self.__class__.__name__.__len__()


class Guest:
    def __init__(self, owner: Owner, cc: CallControl) -> None:
        owner._mine += 1
        cc._bind(None, "1/1")
        getattr(cc, "_fail")
        os._exit(0)
        owner.public, cc.this._ = 1, 2


def helper(owner: Owner) -> int:
    return owner._mine + owner._other
'''
    reaches = [(r.line, r.what) for r in private_reaches(source)]
    assert reaches == [(2, "from daemon.calls.control import _queue_of"), (19, "owner._mine"),
                       (20, "cc._bind"), (21, "getattr(cc, '_fail')"), (22, "os._exit"), (27, "owner._other")]
