"""`kernel-metadata.json`: what Kaggle runs (code file, sources) and on what (accelerator, internet).

Every field Kaggle defaults is written explicitly, so a kernel never gets the client's surprising defaults
(internet *on*, private). The accelerator switches come from `kaggle_kit.accelerators.Accelerator` (the
flags -> machine shape table).

Kaggle derives a kernel's slug from its title, so titles here always slugify back to the slug.

Example:
    >>> acc = Accelerator.from_flags(tpu=True)
    >>> meta = kernel_metadata("local/digit-recognizer-kk-train", "digit-recognizer-kk-train.py", acc,
    ...                        internet=False, competition_sources=["digit-recognizer"])
    >>> meta["enable_tpu"], meta["machine_shape"], meta["enable_internet"]
    (True, 'TpuV5E8', False)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kaggle_kit.accelerators import Accelerator
from kaggle_kit.errors import KKError

METADATA_FILE = "kernel-metadata.json"
SLUG_MIN, SLUG_MAX = 5, 50


def slugify(text: str) -> str:
    """Kaggle's slug of a title: lower case, runs of other characters become one dash."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def kernel_slug(competition: str, kind: str, part: str | None = None) -> str:
    """`digit-recognizer-kk-train`, `kannada-mnist-kk-inference`, `...-kk-train-p1` for a parallel part."""
    tail = f"-kk-{kind}" + (f"-{part}" if part else "")
    head = slugify(competition)[: SLUG_MAX - len(tail)].strip("-")
    return head + tail


def kernel_metadata(ref: str, code_file: str, accelerator: Accelerator, internet: bool, public: bool = False,
                    competition_sources: list[str] | None = None, dataset_sources: list[str] | None = None,
                    kernel_sources: list[str] | None = None, title: str | None = None,
                    keywords: list[str] | None = None) -> dict:
    """The `kernel-metadata.json` content for a script kernel, every switch explicit."""
    owner, _, slug = ref.partition("/")
    title = title or slug
    meta = {
        "id": ref,
        "title": title,
        "code_file": code_file,
        "language": "python",
        "kernel_type": "script",
        "is_private": not public,
        "enable_gpu": accelerator.enable_gpu,
        "enable_tpu": accelerator.enable_tpu,
        "enable_internet": bool(internet),
        "machine_shape": accelerator.machine_shape,
        "competition_sources": list(competition_sources or []),
        "dataset_sources": list(dataset_sources or []),
        "kernel_sources": list(kernel_sources or []),
        "model_sources": [],
        "keywords": list(keywords or []),
    }
    problems = validate_metadata(meta)
    if problems:
        raise KKError(f"kernel {ref}: " + "; ".join(problems))
    return meta


_REF_RE = re.compile(r"^[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$")


def validate_metadata(meta: dict) -> list[str]:
    """Problems Kaggle (or its client) would reject the metadata for; empty when it is fine."""
    problems = []
    ref = str(meta.get("id", ""))
    if not _REF_RE.match(ref):
        problems.append(f"id {ref!r} must look like OWNER/SLUG")
    slug = ref.partition("/")[2]
    if not SLUG_MIN <= len(slug) <= SLUG_MAX:
        problems.append(f"slug {slug!r} must have {SLUG_MIN}-{SLUG_MAX} characters")
    title = str(meta.get("title", ""))
    if len(title) < 5:
        problems.append(f"title {title!r} must have at least 5 characters")
    elif slugify(title) != slug.lower():
        problems.append(f"title {title!r} does not slugify to the slug {slug!r} (Kaggle derives one from the other)")
    if meta.get("language") != "python" or meta.get("kernel_type") not in ("script", "notebook"):
        problems.append("language must be python and kernel_type script or notebook")
    for key in ("dataset_sources", "kernel_sources"):
        for src in meta.get(key, []):
            if not _REF_RE.match(str(src)):
                problems.append(f"{key}: {src!r} must look like OWNER/SLUG")
    if meta.get("enable_gpu") and meta.get("enable_tpu"):
        problems.append("enable_gpu and enable_tpu cannot both be true")
    return problems


def read_metadata(folder: str | Path) -> dict:
    """`folder/kernel-metadata.json`, parsed; a `KKError` naming the file when it is missing or invalid."""
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        raise KKError(f"{path}: not found; is {folder} a rendered kernel folder (kk push-kernel --render-only)?")
    try:
        meta = json.loads(path.read_text())
    except ValueError as exc:
        raise KKError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or not meta.get("code_file"):
        raise KKError(f"{path}: field 'code_file' is missing")
    if not (Path(folder) / meta["code_file"]).is_file():
        raise KKError(f"{path}: code_file {meta['code_file']!r} not found in {folder}")
    return meta


def as_bool(value, default: bool) -> bool:
    """A metadata switch as the official client reads it (JSON bool or "true"/"false")."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)
