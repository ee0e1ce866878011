"""Fixtures of the kernel tests: an emulator with the kernels service, and a kk project folder pointed at it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from kernel_helpers import KEY

from kaggle_kit.sample_data import write_competition


@pytest.fixture(scope="module")
def kernel_store(tmp_path_factory) -> Path:
    """A small digit-recognizer store: 240 training rows, 60 test rows."""
    return write_competition(tmp_path_factory.mktemp("kernel-store"), layout="digit-recognizer", n_train=240,
                             n_test=60)


@pytest.fixture(scope="module")
def emulator(kernel_store):
    from kaggle_kit.emulator.testing import running_emulator

    with running_emulator(kernel_store, users=(f"local:{KEY}",)) as server:
        yield server
        server.backend.kernels.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory, kernel_store, emulator):
    """A kk project (kk.toml, datasets/digit-recognizer) whose commands talk to the emulator as user `local`."""
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(kernel_store / "digit-recognizer" / "data", root / "datasets" / "digit-recognizer")
    (root / "kk.toml").write_text('competition = "digit-recognizer"\nowner = "local"\n')
    home = root / "home"
    (home / "tmp").mkdir(parents=True)
    env = {"HOME": str(home), "TMPDIR": str(home / "tmp"), "KAGGLE_USERNAME": "local", "KAGGLE_KEY": KEY,
           "KK_KAGGLE_URL": emulator.url}
    saved = {k: os.environ.get(k) for k in [*env, "KAGGLE_CONFIG_DIR", "KAGGLE_API_TOKEN"]}
    cwd = os.getcwd()
    os.environ.update(env)
    for k in ("KAGGLE_CONFIG_DIR", "KAGGLE_API_TOKEN"):
        os.environ.pop(k, None)
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
