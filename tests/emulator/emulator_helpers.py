"""Helpers shared by the emulator tests (a module of its own: conftest modules of different folders collide)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from kaggle_kit.emulator.testing import client_env, kaggle_cli

Kaggle = Callable[..., subprocess.CompletedProcess]


def make_runner(server, home: Path, user: str = "local", key: str = "local", **env_extra) -> Kaggle:
    env = client_env(server, home, user=user, key=key)
    env.update(env_extra)

    def run(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([kaggle_cli(), *map(str, args)], env=env, cwd=cwd or home, capture_output=True,
                              text=True, timeout=timeout)

    run.env = env  # type: ignore[attr-defined]
    return run
