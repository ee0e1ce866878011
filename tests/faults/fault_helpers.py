"""What the fault tests build and count: submissions, kernel folders, staged weights, the emulator's records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

SLUG = "digit-recognizer"
KEY = "0123456789abcdef0123456789abcdef"  # 32 hex digits, like a real Kaggle key


def invoke(*args: str):
    """Run kk in this process (the real command, typer's runner); `.output` holds stdout and stderr."""
    from kaggle_kit.cli import app

    return CliRunner().invoke(app, list(args))


def write_submission(store: Path, path: Path) -> Path:
    with open(store / SLUG / "solution.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    path.write_text("ImageId,Label\n" + "".join(f"{r['ImageId']},{r['Label']}\n" for r in rows))
    return path


def submissions_with(emulator, description: str) -> list:
    return [s for s in emulator.backend.competitions.submissions.values() if s.description == description]


def kernel_folder(root: Path, slug: str, body: str) -> Path:
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.py").write_text(body)
    (folder / "kernel-metadata.json").write_text(json.dumps({
        "id": f"local/{slug}", "title": slug, "code_file": f"{slug}.py", "language": "python",
        "kernel_type": "script", "enable_internet": False}))
    return folder


def versions_with(emulator, ref: str, body: str) -> list[int]:
    """Numbers of the versions of kernel `ref` whose code is `body`."""
    kernels = emulator.backend.kernels
    kernel = kernels.kernels.get(ref)
    return [] if kernel is None else [v.number for v in kernel.versions if kernels.source(kernel, v) == body]


def staged_weights(root: Path, slug: str, files: dict[str, bytes], run_id: str = "run-1"):
    """A folder staged as `kk upload-weights` stages one (`StagedWeights`), without training a model first."""
    from kaggle_kit.kernels.weights import DATASET_METADATA, StagedWeights

    folder = root / "datasets" / "local" / slug
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / DATASET_METADATA).write_text(json.dumps({
        "title": slug, "id": f"local/{slug}", "licenses": [{"name": "CC0-1.0"}],
        "subtitle": "kaggle-kit weights for the fault tests", "keywords": []}))
    return StagedWeights(folder, f"local/{slug}", sorted(files), {"run_id": run_id})


def dataset_versions_with(emulator, ref: str, notes: str) -> list[int]:
    ds = emulator.backend.datasets.datasets.get(ref)
    return [] if ds is None else [v.number for v in ds.versions if v.notes == notes]
