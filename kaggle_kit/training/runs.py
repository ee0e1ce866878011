"""Run folders: where a training run keeps everything it produced, and how runs are found again.

Layout of `runs/<competition>/<run-id>/` (run-id = UTC timestamp + recipe name, e.g. `20261122-053012-default`):

    run.json          what the run is (competition, recipe, config hash, K, seed, rows); the same for every
                      process that trains part of the run, so folds trained elsewhere merge by copying files
    config.toml       the resolved recipe
    spec.json         the competition spec (CompetitionSpec.to_dict)
    folds.csv         row -> fold (+ class index) for the rows this run uses
    fold<i>/          model.keras (or model.joblib), history.csv, oof.npy + oof_rows.npy, metrics.json,
                      holdout.npy (extra hold-out probabilities), done.json (written last: the fold is finished);
                      while training: last.keras + state.json (resume point) and best.weights.h5
    oof.npy           out-of-fold probabilities, rows in folds.csv order (NaN where a fold is not done)
    metrics.json      CV accuracy overall / per class / per fold, extra hold-out, confusion matrix
    plots/            curves.png, confusion.png, per_class.png, misclassified.png
    manifest.json     sha256 of every artifact + library versions

Everything at the top level except run.json/config.toml/spec.json/folds.csv is derived from the fold folders
and rewritten by `finalize_run` (trainer), so gathering `fold<i>/` folders from several kernels into one run
folder and re-running `kk train --run-dir DIR` (nothing left to train) rebuilds it.

Example:

    run_dir = new_run_dir("digit-recognizer", "default")
    [r.run_id for r in list_runs("digit-recognizer")]
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from kaggle_kit.config import to_dict
from kaggle_kit.errors import KKError, TamperedRunError
from kaggle_kit.io import atomic_write_json, sha256_file
from kaggle_kit.training.config import RecipeConfig

RUN_FILE = "run.json"
CONFIG_FILE = "config.toml"
SPEC_FILE = "spec.json"
FOLDS_FILE = "folds.csv"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
OOF_FILE = "oof.npy"
PLOTS_DIR = "plots"
DONE_FILE = "done.json"
STATE_FILE = "state.json"
LAST_CKPT = "last.keras"
BEST_WEIGHTS = "best.weights.h5"
MODEL_KERAS = "model.keras"
MODEL_JOBLIB = "model.joblib"
# The run ledger (kaggle_kit.ledger): submissions and the user's note. Not an artifact, so that a note or a
# score never makes the run's files differ from its manifest.
LEDGER_FILE = "ledger.json"

# Settings that change how a run is executed on a device but not what it trains: they may differ between
# the processes that train parts of one run (a laptop and a GPU kernel), and `tta` is only read by predict.
_HASH_EXCLUDED = ("name", "description", "tta", "mixed_precision", "deterministic")
# In-progress files: not artifacts (they are removed when the fold finishes).
_TRANSIENT = (LAST_CKPT, STATE_FILE, BEST_WEIGHTS)


def fold_dir(run_dir: str | Path, fold: int) -> Path:
    return Path(run_dir) / f"fold{fold}"


def utc_stamp(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S")


def new_run_id(recipe_name: str, now: _dt.datetime | None = None) -> str:
    """`20261122-053012-default`: sorts by time and says which recipe trained it."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", recipe_name).strip("-") or "run"
    return f"{utc_stamp(now)}-{safe}"


def runs_base(base: str | Path | None = None) -> Path:
    if base is not None:
        return Path(base)
    from kaggle_kit.project import runs_dir

    return runs_dir()


def new_run_dir(competition: str, recipe_name: str, base: str | Path | None = None) -> Path:
    """A fresh `runs/<competition>/<run-id>/` path (not created); a second in the same second gets a suffix."""
    root = runs_base(base) / competition
    run_id = new_run_id(recipe_name)
    path, n = root / run_id, 1
    while path.exists():
        n += 1
        path = root / f"{run_id}-{n}"
    return path


def config_hash(recipe: RecipeConfig) -> str:
    """sha256 (16 hex) of everything in the recipe that decides what is trained (see `_HASH_EXCLUDED`)."""
    data = {k: v for k, v in to_dict(recipe).items() if k not in _HASH_EXCLUDED}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_diff(a: RecipeConfig, b: RecipeConfig) -> list[str]:
    """`key: old -> new` lines for the settings that differ (hash-relevant keys only)."""

    def flat(d: dict, prefix: str = "") -> dict:
        out = {}
        for k, v in d.items():
            if isinstance(v, dict) and v:
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    fa = flat({k: v for k, v in to_dict(a).items() if k not in _HASH_EXCLUDED})
    fb = flat({k: v for k, v in to_dict(b).items() if k not in _HASH_EXCLUDED})
    return [f"{k}: {fa.get(k)!r} -> {fb.get(k)!r}" for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def library_versions() -> dict[str, str]:
    """Versions of what produced the artifacts, read from package metadata (no heavy imports)."""
    from importlib import metadata

    import kaggle_kit

    versions = {"python": platform.python_version(), "kaggle_kit": kaggle_kit.__version__}
    for key, dist in (("tensorflow", "tensorflow"), ("keras", "keras"), ("numpy", "numpy"),
                      ("scikit-learn", "scikit-learn"), ("albumentations", "albumentations")):
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # e.g. tensorflow-cpu / tf-nightly: try the importable module
            mod = __import__("sys").modules.get(key)
            if mod is not None:
                versions[key] = getattr(mod, "__version__", "unknown")
    return versions


def artifact_files(run_dir: str | Path) -> list[Path]:
    """Every artifact of a run folder (relative paths, sorted): no temp files, no in-progress checkpoints."""
    run_dir = Path(run_dir)
    out = []
    for p in sorted(run_dir.rglob("*")):
        rel = p.relative_to(run_dir)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if rel.name in (MANIFEST_FILE, LEDGER_FILE) and len(rel.parts) == 1:
            continue
        if rel.name in _TRANSIENT:
            continue
        out.append(rel)
    return out


def record_artifacts(run_dir: str | Path, rewritten: list[str | Path] = ()) -> Path:
    """Add to `manifest.json` the artifacts it does not list yet, plus `rewritten` (files kk has just written
    again, e.g. `submission.csv`); returns its path.

    The manifest is tamper evidence, so it is never regenerated from the files it protects: entries already
    listed are verified first (`TamperedRunError` if one no longer matches) and are never re-hashed, except the
    `rewritten` ones. The first call (no manifest yet) records every artifact.
    """
    run_dir = Path(run_dir)
    fresh = {_relative(run_dir, p) for p in rewritten}
    manifest = read_manifest(run_dir) if (run_dir / MANIFEST_FILE).is_file() else {"files": {}}
    problems = [p for p in verify_manifest(run_dir) if p.split(":")[0] not in fresh] if manifest["files"] else []
    if problems:
        raise TamperedRunError(f"{run_dir}: files differ from the run's manifest.json: " + "; ".join(problems[:5]),
                               hint="Restore them (or train the fold again with kk train --run-dir); kk does not "
                                    "re-sign changed files.")
    files = dict(manifest["files"])
    for rel in artifact_files(run_dir):
        key = rel.as_posix()
        if key not in files or key in fresh:
            p = run_dir / rel
            files[key] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    manifest = {
        "created": manifest.get("created") or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": manifest.get("versions") or library_versions(),
        "files": dict(sorted(files.items())),
    }
    return atomic_write_json(run_dir / MANIFEST_FILE, manifest)


def _relative(run_dir: Path, path: str | Path) -> str:
    """`path` relative to the run folder, whether given relative to it, to the cwd, or absolute."""
    path = Path(path)
    if not path.is_absolute() and not (run_dir / path).exists() and path.exists():
        path = path.resolve()
    if path.is_absolute():
        return path.resolve().relative_to(run_dir.resolve()).as_posix()
    return path.as_posix()


def read_manifest(run_dir: str | Path) -> dict:
    """`manifest.json` parsed; a missing or damaged one is a `TamperedRunError` naming the file."""
    path = Path(run_dir) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise TamperedRunError(f"{path}: missing (the run's record of its files)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TamperedRunError(f"{path}: damaged ({exc}); the run's files cannot be verified") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise TamperedRunError(f"{path}: damaged (no 'files' table); the run's files cannot be verified")
    return manifest


def verify_manifest(run_dir: str | Path) -> list[str]:
    """Problems found comparing the files with `manifest.json` (empty list = everything matches)."""
    run_dir = Path(run_dir)
    try:
        manifest = read_manifest(run_dir)
    except TamperedRunError as exc:
        return [exc.message]
    problems = []
    for rel, info in manifest["files"].items():
        p = run_dir / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(p) != info.get("sha256"):
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems


def read_json(path: str | Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / RUN_FILE).is_file()


def require_run_dir(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise KKError(f"{path}: run folder not found")
    if not is_run_dir(path):
        raise KKError(f"{path}: not a kk run folder (no {RUN_FILE}); pass the folder `kk train` printed, "
                      f"e.g. runs/<competition>/<run-id>")
    return path


def done_folds(run_dir: str | Path) -> list[int]:
    """Folds whose `fold<i>/done.json` exists, sorted."""
    out = []
    for p in Path(run_dir).glob(f"fold*/{DONE_FILE}"):
        m = re.fullmatch(r"fold(\d+)", p.parent.name)
        if m:
            out.append(int(m.group(1)))
    return sorted(out)


@dataclass(frozen=True)
class RunSummary:
    """One line of `kk runs`."""

    run_id: str
    competition: str
    recipe: str
    model: str
    folds_done: int
    folds_total: int
    cv_accuracy: float | None
    holdout_accuracy: float | None
    created: str
    path: str

    def to_dict(self) -> dict:
        return asdict(self)


def summarize_run(run_dir: str | Path) -> RunSummary | None:
    run_dir = Path(run_dir)
    info = read_json(run_dir / RUN_FILE)
    if not info:
        return None
    metrics = read_json(run_dir / METRICS_FILE) or {}
    holdout = metrics.get("holdout") or {}
    return RunSummary(
        run_id=run_dir.name,
        competition=info.get("competition", run_dir.parent.name),
        recipe=info.get("recipe", "?"),
        model=info.get("model", "?"),
        folds_done=len(done_folds(run_dir)),
        folds_total=int(info.get("folds", 0)),
        cv_accuracy=metrics.get("cv_accuracy"),
        holdout_accuracy=holdout.get("ensemble_accuracy"),
        created=info.get("created", ""),
        path=str(run_dir),
    )


def list_runs(competition: str | None = None, base: str | Path | None = None) -> list[RunSummary]:
    """Runs under `runs/<competition>/` (every competition when None), oldest first.

    Run folders placed directly in `runs/` (e.g. `--run-dir runs/try1`) are listed too.
    """
    root = runs_base(base)
    children = sorted(p for p in root.glob("*") if p.is_dir())
    candidates = [p for p in children if is_run_dir(p)]
    for comp in ([root / competition] if competition else [p for p in children if not is_run_dir(p)]):
        candidates += [d for d in sorted(comp.glob("*")) if d.is_dir()]
    out = [s for d in candidates if (s := summarize_run(d)) and (competition is None or s.competition == competition)]
    return sorted(out, key=lambda s: (s.created, s.run_id))


def copy_folds(src_run_dir: str | Path, dst_run_dir: str | Path, folds: list[int] | None = None) -> list[int]:
    """Copy finished `fold<i>/` folders of a run trained elsewhere (e.g. a Kaggle kernel's output) into this run.

    Both folders must be the same run (same config hash in run.json). A fold already finished in `dst` is kept.
    Each fold is copied to a hidden temporary folder and renamed into place, so a partial copy never looks done.
    Returns the folds copied; run `kk train --run-dir DST` (or `finalize_run`) afterwards to rebuild the metrics.
    """
    src, dst = Path(src_run_dir), Path(dst_run_dir)
    a, b = read_json(src / RUN_FILE), read_json(dst / RUN_FILE)
    if not a:
        raise KKError(f"{src}: not a kk run folder (no {RUN_FILE})")
    if b is None:  # a fresh destination: take the source's identity files as they are
        dst.mkdir(parents=True, exist_ok=True)
        for name in (FOLDS_FILE, CONFIG_FILE, SPEC_FILE, RUN_FILE):
            if (src / name).is_file():
                shutil.copy2(src / name, dst / f".{name}.tmp")
                (dst / f".{name}.tmp").replace(dst / name)
    elif a.get("config_hash") != b.get("config_hash"):
        raise KKError(f"{src} and {dst} are different runs (config hash {a.get('config_hash')} vs "
                      f"{b.get('config_hash')}); folds can only be gathered into the run they belong to")
    copied = []
    for f in done_folds(src):
        if folds is not None and f not in folds:
            continue
        target = fold_dir(dst, f)
        if (target / DONE_FILE).is_file():
            continue
        tmp = dst / f".fold{f}.copying"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(fold_dir(src, f), tmp, ignore=shutil.ignore_patterns(*_TRANSIENT, ".*"))
        shutil.rmtree(target, ignore_errors=True)  # an unfinished attempt here is superseded by a finished one
        tmp.replace(target)
        copied.append(f)
    return copied
