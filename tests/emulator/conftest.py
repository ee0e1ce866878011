"""Fixtures for the emulator tests: a small store, one shared running emulator, and the official CLI as a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from emulator_helpers import Kaggle, make_runner

from kaggle_kit.emulator.testing import running_emulator
from kaggle_kit.sample_data import write_competition

USERS = ("local:local", "other:other-key")


@pytest.fixture(scope="session")
def emu_store(tmp_path_factory) -> Path:
    """`digit-recognizer` (no deadline, 5 a day) and `limited-digits` (1 a day, deadline 2030-01-01)."""
    root = tmp_path_factory.mktemp("emu-store")
    write_competition(root, layout="digit-recognizer", n_train=60, n_test=40)
    write_competition(root, layout="kannada", n_train=40, n_test=30, slug="limited-digits", seed=3)
    meta_file = root / "limited-digits" / "competition.json"
    meta = json.loads(meta_file.read_text())
    meta.update(max_daily_submissions=1, deadline="2030-01-01T00:00:00Z", title="Limited Digits")
    meta_file.write_text(json.dumps(meta))
    return root


@pytest.fixture(scope="session")
def emulator(emu_store):
    """One emulator for the session; tests keep apart through their own dataset slugs and competitions."""
    with running_emulator(emu_store, users=USERS) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_leftover_faults(request):
    yield
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").clear_faults()


@pytest.fixture
def kaggle(emulator, tmp_path) -> Kaggle:
    """The official `kaggle` CLI as user `local`, with its own HOME and TMPDIR under tmp_path."""
    return make_runner(emulator, tmp_path / "home")
