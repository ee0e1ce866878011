"""Shared fixtures: small, real competitions (scikit-learn digits in Kaggle's layouts), built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kaggle_kit.sample_data import write_competition


@pytest.fixture(scope="session")
def digit_store(tmp_path_factory) -> Path:
    """A digit-recognizer-layout store: `<root>/digit-recognizer/{data/, solution.csv, competition.json}`."""
    return write_competition(tmp_path_factory.mktemp("digit-store"), layout="digit-recognizer", n_train=400, n_test=120)


@pytest.fixture(scope="session")
def kannada_store(tmp_path_factory) -> Path:
    """A Kannada-MNIST-layout store with an extra labelled file and non-contiguous labels."""
    return write_competition(
        tmp_path_factory.mktemp("kannada-store"), layout="kannada", n_train=400, n_test=120, n_extra=80,
        labels=[0, 2, 4, 6, 8, 10, 12, 14, 16, 18],
    )


@pytest.fixture
def digit_data(digit_store, tmp_path) -> Path:
    """A private, writable copy of the digit-recognizer data folder (tests may corrupt it)."""
    return Path(shutil.copytree(digit_store / "digit-recognizer" / "data", tmp_path / "digit-recognizer"))


@pytest.fixture
def kannada_data(kannada_store, tmp_path) -> Path:
    return Path(shutil.copytree(kannada_store / "Kannada-MNIST" / "data", tmp_path / "Kannada-MNIST"))
