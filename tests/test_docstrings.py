"""Every docstring example in kaggle_kit runs (ARCHITECTURE.md: examples either run or are plain code blocks)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import kaggle_kit

MODULES = sorted(m.name for m in pkgutil.walk_packages(kaggle_kit.__path__, "kaggle_kit."))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"
