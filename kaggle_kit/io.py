"""Atomic file writes and hashing.

Weights, runs and downloads must never be left half-written: everything is written to a temporary file in
the target's own folder (same filesystem), fsynced, then renamed over the target in one step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on clean exit it replaces `target` atomically.

    Use it for writers that want a path (Keras `model.save`, `np.save`, matplotlib `savefig`).
    `suffix` defaults to the target's own suffix, since several writers choose the format by extension.

    Example:
        >>> import tempfile, numpy as np
        >>> target = Path(tempfile.mkdtemp()) / "probs.npy"
        >>> with atomic_path(target) as tmp:
        ...     np.save(tmp, np.zeros(3))
        >>> np.load(target).shape
        (3,)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix or target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; artifacts get the usual permissions
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `target` atomically and return the target path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `target` atomically and return the target path."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON to `target` atomically."""
    return atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large weights never sit in memory twice."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def confined(root: str | os.PathLike, *parts: str, what: str = "path") -> Path:
    """`root / parts...`, refusing anything that would land outside `root`: absolute parts, `..`, NUL bytes, a
    part holding a separator, or a resolved path (links followed) outside `root`.

    Every path that comes from a server, an archive or a downloaded file (a run's competition and id, a kernel's
    output names, a zip member) goes through here before kk writes to it.

    Example:
        >>> confined("/tmp/runs", "digit-recognizer", "20260101-default").as_posix()
        '/tmp/runs/digit-recognizer/20260101-default'
        >>> confined("/tmp/runs", "..", "etc", what="competition")
        Traceback (most recent call last):
        ...
        kaggle_kit.errors.KKError: refusing competition '../etc': it would be written outside /tmp/runs
    """
    from kaggle_kit.errors import KKError

    shown = "/".join(parts)
    for part in parts:
        if not part or Path(part).is_absolute() or part in (".", "..") or "/" in part or "\\" in part or "\0" in part:
            raise KKError(f"refusing {what} {shown!r}: it would be written outside {root}")
    base = Path(root).resolve()
    if not base.joinpath(*parts).resolve().is_relative_to(base):
        raise KKError(f"refusing {what} {shown!r}: it resolves outside {root}")
    return Path(root).joinpath(*parts)
