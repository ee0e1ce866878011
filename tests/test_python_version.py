"""The Python versions kk claims to support (pyproject's requires-python) are the ones its code can run on.

kk needs 3.11 (`tomllib`); Kaggle's images run 3.11/3.12. A claim lower than what the code uses is the bug
this file guards against: the minimum is read from pyproject.toml, and every module is checked against it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Standard-library modules newer than the oldest Python kk could plausibly claim, with the version that added them.
NEWER_STDLIB = {"tomllib": (3, 11), "wsgiref.types": (3, 11)}
SOURCES = sorted(p for d in ("kaggle_kit", "benchmarks", "tests") for p in (ROOT / d).rglob("*.py"))


def minimum() -> tuple[int, int]:
    m = re.fullmatch(r">=\s*3\.(\d+)", PYPROJECT["project"]["requires-python"].strip())
    assert m, "requires-python should be a plain lower bound, >=3.N"
    return 3, int(m.group(1))


def imported_modules(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_needs_a_newer_python_than_claimed():
    floor = minimum()
    too_new = []
    for path in SOURCES:
        source = path.read_text()
        tree = ast.parse(source, filename=str(path), feature_version=floor)  # newer syntax is a SyntaxError here
        for name in imported_modules(tree):
            added = NEWER_STDLIB.get(name)
            if added and added > floor:
                too_new.append(f"{path.relative_to(ROOT)} imports {name} (Python {added[0]}.{added[1]}+)")
    assert not too_new, f"requires-python says >={floor[0]}.{floor[1]}, but:\n" + "\n".join(too_new)


def test_the_tests_run_on_a_claimed_version():
    assert sys.version_info[:2] >= minimum()


def test_ruff_and_readme_make_the_same_claim():
    major, minor = minimum()
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py{major}{minor}"
    classifiers = [c for c in PYPROJECT["project"]["classifiers"] if re.fullmatch(r".*:: 3\.\d+", c)]
    assert classifiers and min(int(c.rsplit(".", 1)[1]) for c in classifiers) == minor
    readme = (ROOT / "README.md").read_text()
    assert f"Python {major}.{minor}+" in readme
    assert not re.search(rf"Python 3\.(?!{minor}\b)\d+\+", readme)
