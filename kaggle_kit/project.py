"""The project folder's memory: `kk.toml` names the competition, so `kk submit` needs no arguments.

`kk init COMPETITION` (and the first `kk download COMPETITION`) writes it; every command that takes a
COMPETITION argument falls back to it and says which competition it acts on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kaggle_kit.config import KKConfig, load_toml, to_toml
from kaggle_kit.errors import ConfigError
from kaggle_kit.io import atomic_write_text

PROJECT_FILE = "kk.toml"


class ProjectConfig(KKConfig):
    """Contents of `kk.toml`."""

    competition: str
    owner: str | None = None
    recipe: str = "default"
    datasets_dir: str = "datasets"
    runs_dir: str = "runs"
    # Declares the competition's label set when the data alone would mislead (a real class with very few rows).
    labels: list[int] | list[str] | None = None


def find_project(start: str | Path | None = None) -> Path | None:
    """The nearest `kk.toml` in `start` (default: cwd) or its parents."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder / PROJECT_FILE
    return None


def load_project(start: str | Path | None = None) -> ProjectConfig | None:
    path = find_project(start)
    return load_toml(path, ProjectConfig) if path else None


def project_root(start: str | Path | None = None) -> Path:
    """Folder holding `kk.toml`, or cwd when there is none: relative paths in the config are relative to it."""
    path = find_project(start)
    return path.parent if path else Path(start or os.getcwd()).resolve()


def init_project(competition: str, folder: str | Path | None = None, owner: str | None = None,
                 datasets_dir: str | Path = "datasets", overwrite: bool = False) -> tuple[Path, bool]:
    """Write `kk.toml` for `competition`; returns (path, written). An existing file is kept unless `overwrite`."""
    path = Path(folder or os.getcwd()) / PROJECT_FILE
    if path.is_file() and not overwrite:
        return path, False
    cfg = ProjectConfig(competition=competition, owner=owner, datasets_dir=str(datasets_dir))
    atomic_write_text(path, to_toml(cfg))
    return path, True


@dataclass(frozen=True)
class CompetitionRef:
    """Which competition a command acts on, where its data is, and how that was decided."""

    slug: str
    data_dir: Path
    from_project: bool
    labels: list | None = None  # declared in kk.toml, for the project's own competition only


def resolve_competition(competition: str | None, data_dir: str | Path | None = None) -> CompetitionRef:
    """COMPETITION argument, else `kk.toml`'s; data folder from `--data-dir`, else `<datasets_dir>/<slug>`."""
    project = load_project()
    if competition is None:
        if project is None:
            raise ConfigError(
                "no competition given and no kk.toml here",
                hint="Name one (e.g. kk info digit-recognizer) or run `kk init digit-recognizer` in this folder.",
            )
        competition = project.competition
    root = project_root()
    datasets = Path(project.datasets_dir) if project else Path("datasets")
    if not datasets.is_absolute():
        datasets = root / datasets
    folder = Path(data_dir) if data_dir else datasets / competition
    own = project is not None and competition == project.competition
    return CompetitionRef(slug=competition, data_dir=folder, from_project=own,
                          labels=project.labels if own and project else None)


def runs_dir() -> Path:
    project = load_project()
    runs = Path(project.runs_dir) if project else Path("runs")
    return runs if runs.is_absolute() else project_root() / runs
