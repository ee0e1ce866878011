"""Blends: a weighted average of several runs' test probabilities, weights fitted on their out-of-fold predictions.

Each run's `oof.npy` holds honest predictions for its training rows (every row predicted by the fold that did
not train on it), so the weights can be fitted on them without touching the test set: `fit_weights` minimises
the log loss of the weighted average of the runs' probabilities over the training rows every run scored
(weights >= 0, summing to 1). Runs are matched by training-row index (`folds.csv`), so runs with different
seeds, fold counts or row samples blend on the rows they share.

The blend's reported accuracy is cross-fitted: each of `CROSS_FIT` parts of the rows is scored with weights
fitted on the other parts, so it does not flatter the blend with its own fit. The weights used for the test set
are fitted on all shared rows.

`blend_runs` writes a run-like folder: `run.json` (kind "blend"), `blend.json` (runs, weights, per-run and blend
accuracy), `metrics.json` (`cv_accuracy` = the cross-fitted accuracy, so `kk runs` lists it), `oof.npy` +
`oof_rows.npy` (blended out-of-fold probabilities of the shared rows), `test_probs.npy` and a validated
`submission.csv`. Each run must have `test_probs.npy` (from `kk predict RUN`).

Example:
    >>> import numpy as np
    >>> y = np.array([0, 1, 1, 0])
    >>> good = np.array([[.9, .1], [.2, .8], [.3, .7], [.8, .2]])
    >>> bad = np.array([[.4, .6], [.6, .4], [.5, .5], [.5, .5]])
    >>> w = fit_weights([good, bad], y)
    >>> bool(w[0] > 0.9), round(float(w.sum()), 6)
    (True, 1.0)
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaggle_kit.competition import Competition
from kaggle_kit.errors import KKError
from kaggle_kit.io import atomic_path, atomic_write_json
from kaggle_kit.submission import write_submission
from kaggle_kit.training import runs
from kaggle_kit.training.folds import load_folds

TEST_PROBS = "test_probs.npy"  # what `kk predict` writes beside a run's submission
BLEND_FILE = "blend.json"
CROSS_FIT = 5
EPS = 1e-7


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], EPS, 1.0))))


def blend(probs: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """The weighted average of `probs` (each `(N, K)`)."""
    return np.tensordot(np.asarray(weights, np.float64), np.stack(probs).astype(np.float64), axes=1)


def fit_weights(probs: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Simplex weights (>= 0, sum 1) minimising the log loss of `blend(probs, w)` against labels `y`."""
    from scipy.optimize import minimize

    n = len(probs)
    if n == 1:
        return np.ones(1)
    stack = np.stack(probs).astype(np.float64)[:, np.arange(len(y)), y]  # (runs, N): probability of the truth

    def loss(z):
        w = np.exp(z - z.max())
        w /= w.sum()
        return -np.mean(np.log(np.clip(w @ stack, EPS, 1.0)))

    best = minimize(loss, np.zeros(n), method="Nelder-Mead" if n <= 2 else "Powell",
                    options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000} if n <= 2 else {"maxiter": 4000})
    w = np.exp(best.x - best.x.max())
    return w / w.sum()


def cross_fit_probs(probs: list[np.ndarray], y: np.ndarray, parts: int = CROSS_FIT, seed: int = 0) -> np.ndarray:
    """Blended probabilities where each part of the rows uses weights fitted on the other parts."""
    n = len(y)
    order = np.random.default_rng(seed).permutation(n)
    out = np.zeros(probs[0].shape, np.float64)
    chunks = np.array_split(order, min(parts, n)) if n >= 2 else [order]
    for chunk in chunks:
        rest = np.setdiff1d(order, chunk)
        w = fit_weights([p[rest] for p in probs], y[rest]) if len(rest) else np.full(len(probs), 1 / len(probs))
        out[chunk] = blend([p[chunk] for p in probs], w)
    return out


@dataclass
class RunPredictions:
    """One run's out-of-fold probabilities (by training row) and test probabilities."""

    run_dir: Path
    rows: np.ndarray  # training-row indices of `oof` rows
    oof: np.ndarray
    test: np.ndarray


def load_run_predictions(run_dir: str | Path, competition: Competition) -> RunPredictions:
    from kaggle_kit.training.rundir import check_spec

    run_dir = runs.require_run_dir(run_dir)
    info = runs.read_json(run_dir / runs.RUN_FILE) or {}
    if info.get("competition") not in (None, competition.spec.slug):
        raise KKError(f"{run_dir}: a run of {info.get('competition')!r}, not {competition.spec.slug!r}")
    check_spec(run_dir, competition.spec)
    if (run_dir / "oof_rows.npy").is_file():  # a blend folder: blends can be blended again
        rows = np.load(run_dir / "oof_rows.npy")
    else:
        rows = load_folds(run_dir / runs.FOLDS_FILE).rows
    oof_path, test_path = run_dir / runs.OOF_FILE, run_dir / TEST_PROBS
    if not oof_path.is_file():
        raise KKError(f"{run_dir}: no {runs.OOF_FILE}; finish training first: kk train --run-dir {run_dir}")
    if not test_path.is_file():
        raise KKError(f"{run_dir}: no {TEST_PROBS}; predict the test set first: kk predict {run_dir}")
    oof, test = np.load(oof_path), np.load(test_path)
    if len(oof) != len(rows):
        raise KKError(f"{run_dir}: {runs.OOF_FILE} has {len(oof)} rows, its fold assignment {len(rows)}")
    scored = ~np.isnan(oof).any(axis=1)
    return RunPredictions(run_dir=run_dir, rows=rows[scored], oof=oof[scored], test=test)


def blend_runs(run_dirs: list[str | Path], competition: Competition, out_dir: str | Path) -> dict:
    """Fit weights on the runs' shared out-of-fold rows, blend their test probabilities, write `out_dir`."""
    if len(run_dirs) < 2:
        raise KKError("a blend needs at least two runs")
    preds = [load_run_predictions(r, competition) for r in run_dirs]
    shared = preds[0].rows
    for p in preds[1:]:
        shared = np.intersect1d(shared, p.rows)
    if len(shared) == 0:
        raise KKError("the runs share no scored training rows: their out-of-fold predictions cannot be compared")
    n_test = {len(p.test) for p in preds}
    if len(n_test) != 1 or n_test != {len(competition.test_ids())}:
        raise KKError(f"the runs' {TEST_PROBS} have {sorted(n_test)} rows; the test set has "
                      f"{len(competition.test_ids())}")
    _, y_all = competition.train_arrays()
    y = np.asarray(y_all)[shared].astype(np.int64)
    oofs = [p.oof[np.searchsorted(p.rows, shared)] for p in preds]
    weights = fit_weights(oofs, y)
    crossed = cross_fit_probs(oofs, y)
    in_sample = blend(oofs, weights)
    per_run = [{"run": str(p.run_dir), "weight": float(w), "oof_accuracy": float(np.mean(o.argmax(1) == y)),
                "oof_log_loss": _log_loss(o, y)} for p, w, o in zip(preds, weights, oofs)]
    equal = blend(oofs, np.full(len(oofs), 1 / len(oofs)))
    summary = {
        "runs": per_run, "rows": int(len(shared)),
        "cv_accuracy": float(np.mean(crossed.argmax(1) == y)), "cv_log_loss": _log_loss(crossed, y),
        "in_sample_accuracy": float(np.mean(in_sample.argmax(1) == y)),
        "equal_weights_accuracy": float(np.mean(equal.argmax(1) == y)),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    test = blend([p.test for p in preds], weights).astype(np.float32)
    for name, arr in ((TEST_PROBS, test), (runs.OOF_FILE, in_sample.astype(np.float32)), ("oof_rows.npy", shared)):
        with atomic_path(out_dir / name) as tmp:
            np.save(tmp, arr)
    atomic_write_json(out_dir / runs.SPEC_FILE, competition.spec.to_dict())
    write_submission(competition, np.argmax(test, axis=1), out_dir / "submission.csv")
    atomic_write_json(out_dir / BLEND_FILE, summary)
    atomic_write_json(out_dir / runs.METRICS_FILE, {
        "competition": competition.spec.slug, "recipe": "blend", "cv_accuracy": summary["cv_accuracy"],
        "cv_log_loss": summary["cv_log_loss"], "cv_note": f"cross-fitted over {CROSS_FIT} parts of the shared rows",
        "rows": summary["rows"], "complete": True})
    atomic_write_json(out_dir / runs.RUN_FILE, {
        "kind": "blend", "competition": competition.spec.slug, "recipe": "blend", "model": "blend",
        "runs": [str(p.run_dir) for p in preds], "weights": [float(w) for w in weights], "folds": 0,
        "created": summary["created"]})
    return summary
