"""The runnable docstring examples of the kernel modules run, and say what the code does."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["kaggle_kit.accelerators", "kaggle_kit.kernels.mounts",
                                  "kaggle_kit.kernels.metadata", "kaggle_kit.kernels.bundle", "kaggle_kit.profiles"])
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, name
