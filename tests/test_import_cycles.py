"""No import cycles in kiosk/ and devices/, and the screens stay on top of everything.

Every module is read with ``ast`` (nothing is imported): every ``import`` and ``from ...
import`` counts, at module level, inside functions and under ``if TYPE_CHECKING:``. Importing
``a.b.c`` also imports the packages ``a`` and ``a.b``, except the packages the importing
module itself lives in (they are already loaded when it runs); a module that names its own
package explicitly (``from a.b import x`` inside ``a/b/y.py``) does import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kiosk", "devices")
FRONT_END = "kiosk.tui"
MAY_IMPORT_FRONT_END = {"kiosk.cli", "kiosk.demo"}


def module_files() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_names(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports (explicitly or as parent packages)."""
    is_package = path.name == "__init__.py"
    own_package = module if is_package else module.rpartition(".")[0]
    explicit: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            explicit.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = own_package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            explicit.add(base)
            explicit.update(f"{base}.{alias.name}" for alias in node.names)  # submodules
    found: set[str] = set()
    own_ancestors = set(ancestors(module))
    for name in explicit:
        if name in known:
            found.add(name)
        found.update(p for p in ancestors(name) if p in known and p not in own_ancestors)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imported_names(name, path, known) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_walk_sees_every_kind_of_import():
    graph = import_graph()
    assert "kiosk.tui.app" in graph["kiosk.tui"]  # a package's __init__
    assert "kiosk.tui.app" in graph["kiosk.cli"]  # inside a function
    assert "kiosk.tui.screens" in graph["kiosk.tui.app"]
    assert "devices.events" in graph["kiosk.inbox"]
    assert not {"kiosk", "kiosk.tui"} & graph["kiosk.tui.app"]  # its own packages are already loaded


def test_the_cycle_finder_finds_a_cycle_through_type_checking_and_packages(tmp_path):
    files = {
        "pkg/__init__.py": "from pkg.a import A\n",
        "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\nA = 1\n",
        "pkg/b.py": "def f():\n    import other.c\n",
        "other/__init__.py": "",
        "other/c.py": "from pkg import a\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    names = {"pkg": "pkg/__init__.py", "pkg.a": "pkg/a.py", "pkg.b": "pkg/b.py", "other": "other/__init__.py",
             "other.c": "other/c.py"}
    graph = {name: imported_names(name, tmp_path / rel, set(names)) for name, rel in names.items()}
    assert graph["other.c"] == {"pkg", "pkg.a"}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert {"pkg.a", "pkg.b", "other.c"} <= set(cycle)
    del graph["pkg.b"]
    assert find_cycle(graph) is None


def test_no_import_cycles_in_kiosk_and_devices():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_screens_are_imported_only_by_the_commands_that_start_them():
    graph = import_graph()
    importers = {name for name, imports in graph.items()
                 if not (name == FRONT_END or name.startswith(FRONT_END + "."))
                 and any(i == FRONT_END or i.startswith(FRONT_END + ".") for i in imports)}
    assert importers <= MAY_IMPORT_FRONT_END, f"{sorted(importers - MAY_IMPORT_FRONT_END)} import {FRONT_END}"
