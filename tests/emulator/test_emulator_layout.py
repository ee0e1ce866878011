"""The emulator package's structure: no import cycle between its modules, and its docstring examples run."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest

import kaggle_kit.emulator as emulator_pkg

PACKAGE = Path(emulator_pkg.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """The emulator modules `name` imports, TYPE_CHECKING-only imports included (they are cycles too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk of `graph` meets, each as the list of modules around it."""
    cycles, done = [], set()

    def walk(node: str, path: list[str]) -> None:
        for dep in sorted(graph[node]):
            if dep in path:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in done:
                walk(dep, path + [dep])
        done.add(node)

    for node in sorted(graph):
        if node not in done:
            walk(node, [node])
    return cycles


def test_the_cycle_finder_finds_a_cycle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_the_emulator():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert graph["kaggle_kit.emulator.models"], "the import graph came out empty: the parser is broken"
    assert import_cycles(graph) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
