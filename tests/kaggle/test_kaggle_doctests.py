"""The Kaggle layer's docstring examples that claim to run (`>>>`) do run, and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import kaggle_kit.kaggle


def test_every_doctest_in_the_kaggle_layer_passes():
    attempted = 0
    for info in pkgutil.iter_modules(kaggle_kit.kaggle.__path__):
        module = importlib.import_module(f"kaggle_kit.kaggle.{info.name}")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"{module.__name__}: {result.failed} doctest(s) failed"
        attempted += result.attempted
    assert attempted >= 10  # credentials, routing, errors, transport and types carry runnable examples
