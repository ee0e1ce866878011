"""A running emulator with small, real competitions, and per-test HOME/TMPDIR/credentials for kk.

`kk` runs two ways: in-process (`invoke`, through typer's CliRunner; the Kaggle adapter configures the official
client per call, so tests do not leak into each other) and as a real subprocess (`run_kk`, the most faithful:
a fresh interpreter importing the official client with the test's environment).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kk_kaggle_helpers import LIMITED, REAL_LOOKING_KEY, SLUG, Env

from kaggle_kit.sample_data import write_competition


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Path:
    root = write_competition(tmp_path_factory.mktemp("store"), layout="digit-recognizer", n_train=200, n_test=60)
    write_competition(root, layout="digit-recognizer", n_train=60, n_test=20, slug=LIMITED)
    for slug, limit in ((SLUG, 50), (LIMITED, 2)):
        meta_file = root / slug / "competition.json"
        meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "max_daily_submissions": limit}))
    # A store used by kk itself carries kk's cache beside the data; a download must never install it.
    (root / LIMITED / "data" / ".kk-cache").mkdir()
    (root / LIMITED / "data" / ".kk-cache" / "stale.bin").write_bytes(b"not for clients")
    return root


@pytest.fixture(scope="module")
def emulator(store) -> Iterator:
    from kaggle_kit.emulator.testing import running_emulator

    with running_emulator(store, users=("local:local", "other:other", f"keyed:{REAL_LOOKING_KEY}")) as server:
        yield server
        server.backend.kernels.close()  # kernels pushed by the tests run in the background


@pytest.fixture
def kk_env(tmp_path, monkeypatch, emulator) -> Env:
    from kaggle_kit.emulator.testing import client_env

    home, tmp, project = tmp_path / "home", tmp_path / "tmp", tmp_path / "project"
    for d in (home, tmp, project):
        d.mkdir()
    env = client_env(emulator, home, user="local", key="local", tmpdir=tmp)
    for name in [n for n in os.environ if n.startswith("KAGGLE_") or n.lower() in ("http_proxy", "no_proxy")]:
        monkeypatch.delenv(name)
    for name in ("HOME", "XDG_CONFIG_HOME", "TMPDIR", "KAGGLE_USERNAME", "KAGGLE_KEY", "KK_KAGGLE_URL"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.chdir(project)
    return Env(home, project, env)


