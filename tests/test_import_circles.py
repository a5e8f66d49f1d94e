"""Architecture rule of DESIGN.md: no import circle among the project's packages. The import graph
is read from the source (every import statement, at the top, inside a function or under
``TYPE_CHECKING``) and any circle is named with the file and line of each import in it."""

from __future__ import annotations

from pathlib import Path

from tests.support.import_graph import circles, describe, imports, project_modules


def test_the_project_s_packages_import_no_circle() -> None:
    modules = project_modules()
    assert "daemon.service" in modules and "hal" in modules  # the source was found where it is
    found = circles(imports(modules))
    assert not found, "import circles:\n" + "\n".join(describe(c) for c in found)


def _package(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return project_modules(root, ("pkg",))


def test_a_circle_through_a_lazy_and_a_type_checking_import_is_named(tmp_path: Path) -> None:
    modules = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.sub import b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "def f():\n    from ..c import thing\n",
        "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n",
        "pkg/d.py": "from . import a\nfrom .sub.b import f\n",  # into the circle, not part of it
    })
    [circle] = circles(imports(modules, tmp_path))
    assert describe(circle) == (
        "pkg.a -> pkg.sub.b -> pkg.c -> pkg.a (pkg/a.py:1 imports pkg.sub.b, pkg/sub/b.py:2 imports pkg.c,"
        " pkg/c.py:3 imports pkg.a)")


def test_each_module_on_a_circle_gets_its_shortest_circle_named_once(tmp_path: Path) -> None:
    modules = _package(tmp_path, {
        "pkg/__init__.py": "from pkg import x\n",  # a package importing its own module: a circle too
        "pkg/x.py": "import pkg\n",
        "pkg/p.py": "import pkg.q\nimport pkg.r\n",
        "pkg/q.py": "import pkg.r\n",
        "pkg/r.py": "import pkg.p\n",
        "pkg/s.py": "import pkg.p\nimport pkg.t\n",
        "pkg/t.py": "import os\nimport pkg.p\n",
    })
    found = sorted(" -> ".join([c[0].source] + [e.target for e in c]) for c in circles(imports(modules, tmp_path)))
    assert found == ["pkg -> pkg.x -> pkg", "pkg.p -> pkg.r -> pkg.p", "pkg.q -> pkg.r -> pkg.p -> pkg.q"]


def test_imports_that_run_one_way_are_no_circle(tmp_path: Path) -> None:
    modules = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "import pkg.b\nfrom pkg import c\nfrom . import a\n",  # itself: no edge
        "pkg/b.py": "from pkg.c import thing\nimport json\n",
        "pkg/c.py": "thing = 1\n",
    })
    edges = imports(modules, tmp_path)
    assert {(e.source, e.target) for e in edges} == {("pkg.a", "pkg.b"), ("pkg.a", "pkg.c"), ("pkg.b", "pkg.c")}
    assert circles(edges) == []
