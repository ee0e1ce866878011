"""Non-digit stand-in competitions, built offline from the MNIST files beside ../shared/data/make_competitions.py.

    python -m benchmarks.standin OUT_DIR                        # OUT_DIR/mirror-pairs/ (data/, solution.csv, ...)
    python -m benchmarks.standin OUT_DIR --kind mirror-halves   # OUT_DIR/mirror-halves/

**mirror-pairs**: each 28x28 image shows two different samples of one class side by side, squeezed to 28x14:
the left one upright, the right one mirrored. The class is the pair's digit class (10 classes). Unlike digits,
a left-right flip is label-preserving here: flipping `[a | mirror(b)]` gives `[b | mirror(a)]`, another image
of the same class (the two samples swap sides). Each half is also placed at a fixed side of the image, so the
"object" is not rotated or sheared in the data: those augmentations buy nothing the data needs. It is a
stand-in for image kinds such as clothes (flips fine, digit-tuned rotation/shear not needed), not a
reproduction of one; nothing is downloaded. Two samples per image make it easy (0.999 in 10 minutes).

**mirror-halves**: each image shows ONE sample squeezed to 28x14, either upright in the left half or mirrored in
the right half (even odds). A flip turns one form into the other, so the class survives it; a model trained
without flips learns each form from half the rows. One sample per image keeps it well below 0.999, so whether
the flips are found shows in the score.

Layout: digit-recognizer's (train.csv `label,pixel0..783`; test.csv pixels only; sample_submission.csv
`ImageId,Label` with ImageId 1..N), 20,000 training and 10,000 test images, and a hidden `solution.csv` (25% of the
rows Public). Fixed seed: every build gives the same files.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import DATA_DIR, MAKE_COMPETITIONS
from kaggle_kit.sample_data import halves, pairs

SLUG = "mirror-pairs"
SEED = 11
N_TRAIN, N_TEST = 20000, 10000
KINDS = {"mirror-pairs": pairs, "mirror-halves": halves}
TITLES = {"mirror-pairs": "Mirror pairs (MNIST pairs, flip-invariant stand-in for a non-digit kind)",
          "mirror-halves": "Mirror halves (one MNIST sample, upright left or mirrored right; flip-invariant)"}


def _builder():
    spec = importlib.util.spec_from_file_location("make_competitions", MAKE_COMPETITIONS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(out: Path, slug: str = SLUG) -> Path:
    make = KINDS[slug]
    mc = _builder()
    x, y = mc.mnist()
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(x))
    src_tr, src_te = order[:56000], order[56000:]  # test images are made only of samples training never sees
    x_tr, y_tr = make(x[src_tr], y[src_tr], N_TRAIN, rng)
    x_te, y_te = make(x[src_te], y[src_te], N_TEST, rng)
    d = out / slug
    mc.write_csv(d / "data/train.csv", ["label"] + mc.pixels(), np.column_stack([y_tr, x_tr.reshape(N_TRAIN, -1)]))
    mc.write_csv(d / "data/test.csv", mc.pixels(), x_te.reshape(N_TEST, -1))
    ids = np.arange(1, N_TEST + 1)
    mc.write_csv(d / "data/sample_submission.csv", ["ImageId", "Label"], np.column_stack([ids, np.zeros_like(ids)]))
    mc.write_solution(d / "solution.csv", "ImageId", "Label", ids, y_te, rng)
    meta = dict(slug=slug, title=TITLES[slug],
                metric="categorizationaccuracy", id_column="ImageId", label_column="Label", train_rows=N_TRAIN,
                test_rows=N_TEST)
    (d / "competition.json").write_text(json.dumps(meta, indent=2) + "\n")
    return d


def standin(slug: str = SLUG):
    """A stand-in as a `Competition` and its `solution.csv` (built on first use), or None without MNIST."""
    from kaggle_kit.competition import Competition

    root = DATA_DIR / slug
    if not (root / "solution.csv").is_file():
        if not MAKE_COMPETITIONS.is_file():
            print(f"stand-in absent: {MAKE_COMPETITIONS} not found", file=sys.stderr)
            return None
        build(DATA_DIR, slug)
    return Competition.open(root / "data", slug=slug), root / "solution.csv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, nargs="?", default=DATA_DIR)
    ap.add_argument("--kind", choices=sorted(KINDS), default=SLUG)
    args = ap.parse_args(argv)
    print(f"wrote {build(args.out, args.kind)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
