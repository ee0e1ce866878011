"""Small, real competitions built on the fly, for the demo and the tests (no network, no `../shared`).

The digits are the 1,797 real handwritten digits that ship inside scikit-learn (`load_digits`, 8x8, 0..16),
upscaled to 28x28 MNIST-style (a 24x24 digit centred in a 28x28 frame, 0..255). `write_competition` lays them
out exactly as Kaggle serves a competition and as the emulator's store expects:

    OUT/<slug>/data/train.csv, test.csv, sample_submission.csv[, Dig-MNIST.csv]
    OUT/<slug>/solution.csv        (id, label, Usage = Public/Private)
    OUT/<slug>/competition.json    (title, metric, id/label columns, sizes)

Example:
    >>> import tempfile
    >>> from kaggle_kit.competition import Competition
    >>> store = write_competition(tempfile.mkdtemp(), layout="digit-recognizer", n_train=300, n_test=100)
    >>> Competition.open(store / "digit-recognizer" / "data").spec.classes
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

from kaggle_kit.io import atomic_write_text

Layout = Literal["digit-recognizer", "kannada"]
Kind = Literal["digits", "mirror-pairs"]


def sample_digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 scikit-learn digits as `(N, 28, 28) uint8` images and `(N,) int64` labels, shuffled by `seed`."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    bunch = load_digits()
    small = bunch.images.astype(np.float32) / 16.0
    big = zoom(small, (1, 3, 3), order=1)  # 8x8 -> 24x24, bilinear
    images = np.zeros((len(big), 28, 28), np.float32)
    images[:, 2:26, 2:26] = big
    images = np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(images))
    return images[order], bunch.target.astype(np.int64)[order]


def squeeze(images: np.ndarray) -> np.ndarray:
    """`(N, 28, 28)` -> `(N, 28, 14)`: the mean of each pair of columns."""
    x = images.astype(np.float32)
    return ((x[:, :, 0::2] + x[:, :, 1::2]) / 2).round().astype(np.uint8)


def mirror_pair(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`[squeeze(left) | mirror(squeeze(right))]`, `(N, 28, 28)` uint8; flipped, it is `mirror_pair(right, left)`.

    Example:
        >>> a, b = np.zeros((1, 28, 28), np.uint8), np.zeros((1, 28, 28), np.uint8)
        >>> a[0, 5, 0:2] = 200
        >>> bool((mirror_pair(a, b)[:, :, ::-1] == mirror_pair(b, a)).all())
        True
    """
    return np.concatenate([squeeze(left), squeeze(right)[:, :, ::-1]], axis=2)


def pairs(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`n` mirror-pairs `(n, 28, 28)`: a random first sample and a second, different sample of the same class.

    An image kind where a left-right flip keeps the class (it swaps the two samples), unlike the digits it is made
    of: the stand-in for clothes-like images that tests and benchmarks build without downloading anything.
    """
    x = x.reshape(len(x), 28, 28)
    first = rng.integers(0, len(x), n)
    labels = y[first]
    second = np.empty(n, np.int64)
    for c in np.unique(labels):
        pool = np.flatnonzero(y == c)
        at = np.flatnonzero(labels == c)
        pick = pool[rng.integers(0, len(pool), len(at))]
        same = pick == first[at]
        pick[same] = pool[(np.searchsorted(pool, pick[same]) + 1) % len(pool)]
        second[at] = pick
    return mirror_pair(x[first], x[second]), labels


def halves(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`n` mirror-halves `(n, 28, 28)`: one random sample squeezed to 28x14, upright on the left or mirrored on the right.

    A flip turns one form into the other, so the class survives it; without flips in training each form learns
    from half the rows. Harder than `pairs` (one sample per image, not two), so the choice of flips shows.

    Example:
        >>> x, y = np.zeros((4, 28, 28), np.uint8), np.arange(4)
        >>> x[:, 3, 0:2] = 255
        >>> images, labels = halves(x, y, 6, np.random.default_rng(0))
        >>> images.shape, sorted(set(int(i) for i in (images[:, 3, 0] | images[:, 3, 27])))
        ((6, 28, 28), [255])
    """
    x = x.reshape(len(x), 28, 28)
    pick = rng.integers(0, len(x), n)
    right = rng.random(n) < 0.5
    images = mirror_pair(x[pick], np.zeros((n, 28, 28), x.dtype))
    images[right] = images[right, :, ::-1]  # mirror_pair(a, blank) flipped is mirror_pair(blank, a)
    return images, y[pick]


def _csv(rows: np.ndarray, header: list[str]) -> str:
    lines = [",".join(header)]
    lines += [",".join(map(str, r)) for r in rows.tolist()]
    return "\n".join(lines) + "\n"


def write_competition(
    out: str | Path,
    layout: Layout = "digit-recognizer",
    n_train: int = 600,
    n_test: int = 200,
    n_extra: int = 0,
    slug: str | None = None,
    labels: list | None = None,
    seed: int = 0,
    public_fraction: float = 0.25,
    kind: Kind = "digits",
) -> Path:
    """Write a small competition store under `out` and return `out`.

    `kind` "mirror-pairs" makes every image a pair of two digits of one class, the right one mirrored (`pairs`):
    a competition whose classes survive a left-right flip.

    `labels` remaps the digit classes 0..9 to other values (e.g. non-contiguous `[0, 2, 4, ...]`) to exercise
    label mapping. `n_extra` rows go to an extra labelled file (`Dig-MNIST.csv`, Kannada layout only).
    """
    out = Path(out)
    images, targets = sample_digits(seed)
    need = n_train + n_test + n_extra
    if kind == "mirror-pairs":
        images, targets = pairs(images, targets, need, np.random.default_rng(seed))
    if need > len(images):
        reps = -(-need // len(images))
        images, targets = np.concatenate([images] * reps), np.concatenate([targets] * reps)
    if labels is not None:
        targets = np.asarray(labels)[targets]
    flat = images.reshape(len(images), -1)
    pix = [f"pixel{i}" for i in range(flat.shape[1])]
    tr = slice(0, n_train)
    te = slice(n_train, n_train + n_test)
    ex = slice(n_train + n_test, need)
    slug = slug or ("digit-recognizer" if layout == "digit-recognizer" else "Kannada-MNIST")
    root = out / slug
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    public = np.zeros(n_test, bool)
    public[rng.permutation(n_test)[: int(round(n_test * public_fraction))]] = True
    usage = np.where(public, "Public", "Private")
    atomic_write_text(data / "train.csv", _csv(np.column_stack([targets[tr], flat[tr]]), ["label", *pix]))
    if layout == "digit-recognizer":
        id_col, label_col = "ImageId", "Label"
        ids = np.arange(1, n_test + 1)
        atomic_write_text(data / "test.csv", _csv(flat[te], pix))
        title = "Digit Recognizer (scikit-learn digits)"
    else:
        id_col, label_col = "id", "label"
        ids = np.arange(n_test)
        atomic_write_text(data / "test.csv", _csv(np.column_stack([ids, flat[te]]), ["id", *pix]))
        if n_extra:
            atomic_write_text(data / "Dig-MNIST.csv", _csv(np.column_stack([targets[ex], flat[ex]]), ["label", *pix]))
        title = "Kannada MNIST layout (scikit-learn digits)"
    default_label = targets[0]
    sub = np.column_stack([ids, np.full(n_test, default_label)])
    atomic_write_text(data / "sample_submission.csv", _csv(sub, [id_col, label_col]))
    sol_lines = [f"{id_col},{label_col},Usage"] + [f"{i},{t},{u}" for i, t, u in zip(ids, targets[te], usage)]
    atomic_write_text(root / "solution.csv", "\n".join(sol_lines) + "\n")
    meta = {
        "slug": slug, "title": title, "metric": "categorizationaccuracy", "id_column": id_col,
        "label_column": label_col, "train_rows": n_train, "test_rows": n_test,
        "rules_required": False, "code_competition": True,
    }
    if n_extra and layout != "digit-recognizer":
        meta["extra_files"] = {"Dig-MNIST.csv": n_extra}
    atomic_write_text(root / "competition.json", json.dumps(meta, indent=2) + "\n")
    return out
