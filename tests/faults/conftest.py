"""An emulator behind the fault proxy, a client world pointed at the proxy, and what the runs need to build.

Faults come from both sides: the emulator's own injection answers 500/503/429 (and keeps part of an upload)
*instead of* acting; the proxy (`kaggle_kit.emulator.fault_proxy`) loses the answer *after* the emulator acted,
cuts answers short, or drops the request. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_helpers import KEY, SLUG

from kaggle_kit.emulator.fault_proxy import FaultProxy
from kaggle_kit.sample_data import write_competition


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = write_competition(tmp_path_factory.mktemp("store"), layout="digit-recognizer", n_train=120, n_test=40)
    meta = root / SLUG / "competition.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "max_daily_submissions": 500}))
    return root


@pytest.fixture(scope="module")
def emulator(store) -> Iterator:
    from kaggle_kit.emulator.testing import running_emulator

    with running_emulator(store, users=("local:local", f"keyed:{KEY}"), scoring_delay=0.0) as server:
        yield server
        server.backend.kernels.close()


@pytest.fixture
def proxy(emulator) -> Iterator[FaultProxy]:
    with FaultProxy(emulator.url, rate=0.0, timeout=20) as p:
        yield p
    emulator.backend.faults.clear()


@pytest.fixture
def world(tmp_path, monkeypatch, proxy) -> Path:
    """This process's environment pointed at the proxy as user `local` (own HOME and TMPDIR); the project dir."""
    from kaggle_kit.emulator.testing import client_env

    home, project = tmp_path / "home", tmp_path / "project"
    project.mkdir()
    env = client_env(proxy.url, home, tmpdir=tmp_path / "tmp")
    for name in [n for n in os.environ if n.startswith("KAGGLE_") or n.lower() in ("http_proxy", "no_proxy")]:
        monkeypatch.delenv(name)
    for name in ("HOME", "XDG_CONFIG_HOME", "TMPDIR", "KAGGLE_USERNAME", "KAGGLE_KEY", "KK_KAGGLE_URL"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("KK_RETRY_BACKOFF", "0.01")  # the real commands, without minutes of waiting
    monkeypatch.chdir(project)
    return project
