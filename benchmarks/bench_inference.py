"""Inference: an ensemble of K folds x (1 + TTA) passes over the 28,000 test images, kk vs seed 001's loop.

    python -m benchmarks.bench_inference [--folds 2] [--tta 1] [--repeats 2] [--recipe default]

kk: `predict_run` itself (what `kk predict RUN_DIR --tta N` runs): TTA images are made once with the recipe's
augmentation at half strength (graph back end: one batched op per pass) and every fold model predicts every pass
through `eval_dataset`; then the submission is written and validated.

seed 001: its `tta_wrapper` design: per fold, `model.predict` over an `InputGenerator`-style `PyDataset` of 250
images whose `__getitem__` runs albumentations per image in Python (an empty `Compose` for the plain pass,
`ShiftScaleRotate(0.1, 0.1, 10)` for the TTA passes), averaged, then a pandas CSV (`predict_generator` became
`predict` on a `PyDataset` in Keras 3).

Both load the same fold models from a real run folder, trained here by `train_run` for 1 epoch on a small
stratified sample (throughput does not depend on the weights; the models only need to exist). Both do the same
K x (1 + TTA) x 28,000 image passes; timings include loading the models.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    DATA_DIR,
    Row,
    Section,
    Stat,
    absent_section,
    digit_recognizer,
    interleaved,
    machine_load,
    publish,
    ratios,
    score_submission,
)

COMMAND = "python -m benchmarks.bench_inference"
TITLE = "Inference: K-fold ensemble x (1 + TTA) over the 28,000 test images"


def ensure_run(comp, recipe_name: str, folds: int, limit: int) -> Path:
    """A finished run folder with `folds` quickly trained fold models (reused when it already exists)."""
    from kaggle_kit.training.recipes import load_recipe
    from kaggle_kit.training.runs import done_folds
    from kaggle_kit.training.trainer import train_run

    recipe = load_recipe(recipe_name, [f"folds={folds}", "epochs=1", f"limit={limit}"])
    run_dir = DATA_DIR / "runs" / f"inference-{recipe_name}-k{folds}-n{limit}"
    if len(done_folds(run_dir)) < folds:
        train_run(comp, recipe, run_dir)
    return run_dir


def seed001_predict(run_dir: Path, comp, tta: int, out: Path, batch_size: int = 250) -> np.ndarray:
    """Seed 001's ensemble loop over the run's fold models; writes a pandas CSV like the notebook."""
    import albumentations as A
    import keras
    import pandas as pd

    from benchmarks import seed_pipelines as sp
    from kaggle_kit.training import register_custom_objects
    from kaggle_kit.training.predict import fold_models

    register_custom_objects()
    test = comp.test_images()
    k = comp.spec.num_classes
    models = fold_models(run_dir)
    probs = np.zeros((len(test), k))
    for path in models.values():
        model = keras.models.load_model(path, compile=False)
        normal = sp.AlbumentationsSequence(test, aug=A.Compose([]), batch_size=batch_size)
        aug = sp.AlbumentationsSequence(test, aug=sp.seed001_tta_aug(), batch_size=batch_size)
        probs += sp.TTAWrapper(model, normal, aug, repeats=tta).predict()
    probs /= len(models)
    labels = np.argmax(probs, axis=1)
    ids = comp.submission_ids()
    pd.DataFrame({comp.spec.id_column: ids, comp.spec.target_column: comp.spec.decode_labels(labels)}).to_csv(
        out, index=False)
    return labels


def main(argv: list[str] | None = None) -> Section:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=2, help="K fold models in the ensemble")
    ap.add_argument("--tta", type=int, default=1, help="augmented passes besides the plain one")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--recipe", default="default")
    ap.add_argument("--limit", type=int, default=4000, help="rows the fold models are quickly trained on")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    found = digit_recognizer()
    if found is None:
        return absent_section("inference", TITLE, COMMAND)
    comp, solution = found

    import logging

    from kaggle_kit.training.predict import predict_run

    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # the seed loop retraces predict per model, by design
    t = time.perf_counter()
    run_dir = ensure_run(comp, args.recipe, args.folds, args.limit)
    setup_s = time.perf_counter() - t
    n_test = len(comp.test_images())
    images = n_test * args.folds * (1 + args.tta)
    tmp = Path(tempfile.mkdtemp(prefix="kk-bench-inference-"))
    outputs: dict[str, np.ndarray] = {}

    def timed_rate(fn) -> tuple[float, float]:
        """(images per wall second, images per CPU-second of this process)."""
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        return images / (time.perf_counter() - t0), images / (time.process_time() - c0)

    def kk() -> tuple[float, float]:
        def go():
            outputs["kk"] = predict_run(run_dir, comp, tta=args.tta, out=tmp / "kk" / "submission.csv").predicted

        return timed_rate(go)

    def seed() -> tuple[float, float]:
        def go():
            outputs["seed"] = seed001_predict(run_dir, comp, args.tta, tmp / "seed-submission.csv")

        return timed_rate(go)

    (tmp / "kk").mkdir()
    load = machine_load()
    both = interleaved({"kk": kk, "seed": seed}, args.repeats)
    res = {k: [w for w, _ in v] for k, v in both.items()}
    res_cpu = {k: [c for _, c in v] for k, v in both.items()}
    r, r_cpu = ratios(res["kk"], res["seed"]), ratios(res_cpu["kk"], res_cpu["seed"])
    kk_score = score_submission(tmp / "kk" / "submission.csv", solution)
    seed_score = score_submission(tmp / "seed-submission.csv", solution)
    agree = float(np.mean(outputs["kk"] == outputs["seed"]))
    rows = [
        Row(f"kk predict_run: {args.folds} folds x (1 + {args.tta}) passes x {n_test:,} images",
            f"{Stat.of(res['kk']).fmt(' img/s', 0)} ({Stat.of(res_cpu['kk']).median:.0f} per CPU-s)",
            extra={"wall": res["kk"], "cpu": res_cpu["kk"]}),
        Row("seed 001 tta_wrapper + predict over an albumentations PyDataset (batch 250)",
            f"{Stat.of(res['seed']).fmt(' img/s', 0)} ({Stat.of(res_cpu['seed']).median:.0f} per CPU-s)",
            extra={"wall": res["seed"], "cpu": res_cpu["seed"]}),
        Row("kk / seed 001 loop, images/s per round (per CPU-second)", f"{r.fmt('x', 2)} ({r_cpu.median:.2f}x)",
            "> 1.0x", r.median > 1.0),
        Row("kk wall time per ensemble prediction", f"{images / Stat.of(res['kk']).median:.1f} s"),
        Row("seed 001 loop wall time per ensemble prediction", f"{images / Stat.of(res['seed']).median:.1f} s"),
    ]
    notes = [
        f"Fold models: recipe {args.recipe}, trained by train_run for 1 epoch on {args.limit} rows "
        f"({setup_s:.0f} s, reused when present): throughput does not depend on the weights. Test accuracy of these "
        f"quick models (they only need to exist): kk {kk_score['all']:.4f}, seed loop {seed_score['all']:.4f}; the two ensembles agree on "
        f"{agree:.1%} of the test images (their TTA draws differ).",
        f"{args.repeats} interleaved rounds; {load} at the start. Timings include loading each fold's .keras file "
        f"and writing the submission.",
        "kk makes each TTA pass once (one batched op) and reuses it across folds; the seed loop re-augments per fold "
        "and image in Python, so kk's advantage grows with K and TTA.",
    ]
    return publish("inference", TITLE, COMMAND, argv, rows, notes, t_start, save_it=not args.no_save)


if __name__ == "__main__":
    main()
