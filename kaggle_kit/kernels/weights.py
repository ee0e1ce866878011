"""`kk upload-weights`: publish a run's fold weights as a Kaggle dataset an offline inference kernel can read.

The dataset is staged in `datasets/<owner>/<slug>/` (so `kk run-kernel` can mount it locally too) and holds
only what inference needs, with flat names (Kaggle datasets are flat file sets):

    run.json, config.toml, spec.json           the run's identity, resolved recipe and competition format
    fold<i>-model.keras (or -model.joblib)     each finished fold's weights
    fold<i>-done.json, fold<i>-metrics.json    its completion record and CV metrics (for weighted ensembles)
    manifest.json                              format, run id, spec, and for every file above: sha256, size and
                                               its path in the run folder (the kernel rebuilds the folder)
    dataset-metadata.json                      Kaggle's metadata (not uploaded as a file)

Nothing else goes in: no training data, no out-of-fold rows, no plots, and never credentials (every staged
file is checked for the Kaggle key before anything is sent). The run folder's own `manifest.json` is checked
first, so weights that changed since training are never published.

Example (needs a trained run and a Kaggle client, so a plain code block):

    staged = stage_weights("runs/digit-recognizer/20261122-053012-default", owner="local")
    staged.ref, sorted(staged.files)[:3]
    # ('local/digit-recognizer-kk-weights', ['config.toml', 'fold0-done.json', 'fold0-metrics.json'])
    upload_weights(KaggleClient(), staged, "first weights").version   # 1
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kaggle_kit import __version__
from kaggle_kit.errors import KKError
from kaggle_kit.io import atomic_write_json, sha256_file
from kaggle_kit.kernels.metadata import slugify
from kaggle_kit.kernels.render import check_no_secret
from kaggle_kit.kernels.runtime import WEIGHTS_FORMAT, WEIGHTS_MANIFEST

DATASET_METADATA = "dataset-metadata.json"
RUN_FILES = ("run.json", "config.toml", "spec.json")
FOLD_FILES = ("done.json", "metrics.json")  # plus the model file named in done.json


@dataclass(frozen=True)
class StagedWeights:
    """A staged weights dataset: its folder, `owner/slug`, the files that will be uploaded, and the manifest."""

    folder: Path
    ref: str
    files: list[str]
    manifest: dict

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]


@dataclass(frozen=True)
class UploadResult:
    ref: str
    version: int | None
    created: bool  # a new dataset (else a new version of an existing one)
    status: str
    url: str | None = None


def default_dataset_slug(competition: str) -> str:
    """`digit-recognizer-kk-weights`: one dataset per competition; each upload is a new version of it."""
    tail = "-kk-weights"
    return slugify(competition)[: 50 - len(tail)].strip("-") + tail


def datasets_root() -> Path:
    """The project's datasets folder (kk.toml's `datasets_dir`, else `datasets/`)."""
    from kaggle_kit.project import load_project, project_root

    project = load_project()
    root = Path(project.datasets_dir) if project else Path("datasets")
    return root if root.is_absolute() else project_root() / root


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def dataset_target(dataset: str | None, client=None) -> tuple[str, str | None]:
    """(owner, slug) of `--dataset OWNER/SLUG`; without one, the kernel owner and the default slug (None)."""
    from kaggle_kit.kernels.push import owner_name

    if not dataset:
        return owner_name(client), None
    parts = dataset.split("/")
    if len(parts) != 2 or not all(_NAME.fullmatch(p) for p in parts):
        raise KKError(f"--dataset {dataset!r}: expected OWNER/SLUG (letters, digits, '-' and '_')")
    return parts[0], parts[1]


def newest_run(competition: str | None = None) -> Path:
    """The newest run of `competition` (default kk.toml's) with at least one finished fold."""
    from kaggle_kit.project import resolve_competition
    from kaggle_kit.training.runs import list_runs

    ref = resolve_competition(competition)
    found = [r for r in list_runs(ref.slug) if r.folds_done > 0]
    if not found:
        raise KKError(f"no trained run of {ref.slug} in runs/; pass RUN_DIR")
    return Path(found[-1].path)


def _check_run(run_dir: Path) -> tuple[dict, list[int]]:
    from kaggle_kit.training import runs

    runs.require_run_dir(run_dir)
    problems = runs.verify_manifest(run_dir)
    if problems:
        raise KKError(f"{run_dir}: the run's files do not match its manifest.json, refusing to publish them:\n  "
                      + "\n  ".join(problems[:10]),
                      hint="Restore those files; kk does not re-sign files it did not write (RELIABILITY.md).")
    folds = runs.done_folds(run_dir)
    if not folds:
        raise KKError(f"{run_dir}: no finished fold (no fold<i>/done.json) to publish",
                      hint=f"Train first: kk train --run-dir {run_dir} (or kk push-kernel train --run {run_dir}).")
    info = runs.read_json(run_dir / runs.RUN_FILE) or {}
    return info, folds


def _prepare_folder(folder: Path) -> None:
    """Empty the staging folder; it must be one kk made (a manifest of ours) or empty, never a user's folder."""
    if folder.exists():
        entries = list(folder.iterdir())
        manifest = folder / WEIGHTS_MANIFEST
        ours = manifest.is_file() and json.loads(manifest.read_text() or "{}").get("format") == WEIGHTS_FORMAT
        if entries and not ours:
            raise KKError(f"{folder}: exists and was not made by kk upload-weights; refusing to replace its files",
                          hint="Pass another --dataset OWNER/SLUG or move that folder away.")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def stage_weights(run_dir: str | Path, owner: str, slug: str | None = None, root: str | Path | None = None,
                  secret: str | None = None) -> StagedWeights:
    """Copy a run's inference artifacts into `<root>/<owner>/<slug>/` with a sha256 manifest."""
    from kaggle_kit.training import runs

    run_dir = Path(run_dir)
    info, folds = _check_run(run_dir)
    competition = info.get("competition") or run_dir.parent.name
    slug = slug or default_dataset_slug(competition)
    if not 6 <= len(slug) <= 50 or slugify(slug) != slug:
        raise KKError(f"dataset slug {slug!r}: use 6-50 lower-case letters, digits and dashes")
    folder = Path(root if root is not None else datasets_root()) / owner / slug
    wanted: dict[str, Path] = {name: run_dir / name for name in RUN_FILES}
    for f in folds:
        fdir = runs.fold_dir(run_dir, f)
        done = json.loads((fdir / runs.DONE_FILE).read_text())
        model = str(done.get("model") or runs.MODEL_KERAS)
        for name in (*FOLD_FILES, model):
            wanted[f"fold{f}-{name}"] = fdir / name
    missing = [str(p) for p in wanted.values() if not p.is_file()]
    if missing:
        raise KKError(f"{run_dir}: incomplete run folder, missing {', '.join(missing)}")
    if secret:
        check_no_secret(secret, {str(p): p.read_bytes() for p in wanted.values()})
    _prepare_folder(folder)
    files = {}
    for name, src in wanted.items():
        shutil.copyfile(src, folder / name)
        files[name] = {"path": src.relative_to(run_dir).as_posix(), "sha256": sha256_file(folder / name),
                       "bytes": (folder / name).stat().st_size}
    manifest = {
        "format": WEIGHTS_FORMAT, "run_id": run_dir.name, "competition": competition,
        "recipe": info.get("recipe"), "model": info.get("model"), "config_hash": info.get("config_hash"),
        "folds": folds, "spec": runs.read_json(run_dir / runs.SPEC_FILE),
        # What trained the weights: the inference kernel notes it when Kaggle's image has other versions.
        "versions": (runs.read_json(run_dir / runs.MANIFEST_FILE) or {}).get("versions"),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "kaggle_kit": __version__,
        "files": files,
    }
    atomic_write_json(folder / WEIGHTS_MANIFEST, manifest)
    ref = f"{owner}/{slug}"
    atomic_write_json(folder / DATASET_METADATA, {
        "title": slug, "id": ref, "licenses": [{"name": "CC0-1.0"}],
        "subtitle": f"kaggle-kit weights of {competition} run {run_dir.name}"[:80].ljust(20, "."),
        "description": f"Fold weights ({', '.join(map(str, folds))}) of kaggle-kit run {run_dir.name} "
                       f"(recipe {info.get('recipe')}, model {info.get('model')}) for {competition}, "
                       f"with a sha256 manifest. Made by `kk upload-weights`.",
        "keywords": [],
    })
    if secret:  # the metadata and manifest are ours, but check the whole upload as it stands
        check_no_secret(secret, {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})
    return StagedWeights(folder, ref, sorted([*files, WEIGHTS_MANIFEST]), manifest)


def upload_weights(client, staged: StagedWeights, message: str = "", wait: bool = True, poll: float = 5.0,
                   timeout: float = 1800.0, on_status: Callable[[str], None] | None = None) -> UploadResult:
    """Create the dataset, or a new version when it exists; with `wait`, until Kaggle says it is ready."""
    existing = client.dataset_status(staged.ref)
    notes = message or f"kaggle-kit run {staged.run_id}"
    if existing is None:
        result = client.dataset_create(staged.folder)
        created = True
    else:
        result = client.dataset_version(staged.folder, notes)
        created = False
    status = client.dataset_status(staged.ref) or "unknown"
    deadline = time.monotonic() + timeout
    while wait and status != "ready":
        if status in ("failed", "deleted"):
            raise KKError(f"dataset {staged.ref}: Kaggle reports status {status!r} after the upload")
        if time.monotonic() > deadline:
            raise KKError(f"dataset {staged.ref}: still {status!r} after {timeout:g} s",
                          hint=f"Check later with: kaggle datasets status {staged.ref}")
        if on_status:
            on_status(status)
        time.sleep(poll)
        status = client.dataset_status(staged.ref) or "unknown"
    version = client.dataset_version_number(staged.ref)
    return UploadResult(staged.ref, version, created, status, getattr(result, "url", None))


def staged_weights(root: str | Path | None = None, competition: str | None = None) -> list[tuple[Path, dict]]:
    """Weights datasets staged under `<root>/<owner>/<slug>/` (newest first), optionally for one competition."""
    root = Path(root if root is not None else datasets_root())
    found = []
    for manifest in root.glob(f"*/*/{WEIGHTS_MANIFEST}"):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if data.get("format") != WEIGHTS_FORMAT:
            continue
        if competition and data.get("competition") != competition:
            continue
        found.append((manifest.parent, data))
    return sorted(found, key=lambda x: x[1].get("created", ""), reverse=True)
