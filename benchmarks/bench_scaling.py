"""Scaling: training images/s and peak memory (RSS) at 10k, 20k and 42k rows of digit-recognizer.

    python -m benchmarks.bench_scaling [--sizes 10000 20000 42000] [--recipe default]

Each size runs in a fresh Python process (so its peak RSS, `ru_maxrss`, is its own): `train_run` on the recipe
with `limit = rows` (a stratified sample; all 42,000 rows for the full set), fold 0 of the recipe's K folds, one
epoch, into a temporary run folder. Reported: the epoch's images/s as `kk train` logs it (training phase only),
the epoch and whole-run wall times, the RSS after imports, and the peak RSS.

What "bounded" means here: kk keeps images as uint8 (784 bytes per 28x28 image); a float32 copy of the set
would be 4x that. The peak-RSS growth from the smallest to the largest size is compared with one float32 copy
of the added rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    ROOT,
    Row,
    Section,
    absent_section,
    current_rss_mb,
    digit_recognizer,
    machine_load,
    peak_rss_mb,
    publish,
)

COMMAND = "python -m benchmarks.bench_scaling"
TITLE = "Scaling with the number of training rows"


def child(rows: int, recipe_name: str) -> dict:
    """Train one epoch of fold 0 on `rows` rows in this process; return the measurements."""
    import keras  # noqa: F401  (imports counted in the baseline RSS)

    from kaggle_kit.training.recipes import load_recipe
    from kaggle_kit.training.reporting import Reporter
    from kaggle_kit.training.trainer import train_run

    class Clock(Reporter):
        """Wall and CPU time at the end of step `WARM` and of the epoch's last training step."""

        wants_batches = True
        WARM = 2

        def on_fold_start(self, fold, info):
            self.n_train, self.steps = info["n_train"], info["steps_per_epoch"]

        def on_batch_end(self, fold, epoch, step, steps):
            if step in (self.WARM, steps):
                setattr(self, "a" if step == self.WARM else "b", (time.perf_counter(), time.process_time()))

    found = digit_recognizer()
    comp = found[0]
    rss_imports = current_rss_mb()
    n_all = len(comp.train_arrays()[1])
    overrides = ["epochs=1"] + ([f"limit={rows}"] if rows < n_all else [])
    recipe = load_recipe(recipe_name, overrides)
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="kk-bench-scaling-") as tmp:
        t0 = time.perf_counter()
        result = train_run(comp, recipe, Path(tmp) / "run", folds_to_train=[0], reporter=clock)
        wall = time.perf_counter() - t0
        fold = result.folds[0]
        history = (Path(tmp) / "run" / "fold0" / "history.csv").read_text().splitlines()
    head, first = history[0].split(","), history[1].split(",")
    steady_images = clock.n_train - clock.WARM * recipe.batch_size
    return {"rows": min(rows, n_all), "folds": recipe.folds, "train_images": clock.n_train,
            "epoch_images_per_sec": fold.images_per_sec, "epoch_seconds": float(first[head.index("seconds")]),
            "steady_images_per_sec": steady_images / (clock.b[0] - clock.a[0]),
            "steady_images_per_cpu_sec": steady_images / (clock.b[1] - clock.a[1]),
            "run_seconds": wall, "val_accuracy": fold.val_accuracy, "rss_after_imports_mb": rss_imports,
            "peak_rss_mb": peak_rss_mb()}


def main(argv: list[str] | None = None) -> Section:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 42_000])
    ap.add_argument("--recipe", default="default")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.recipe)), flush=True)
        return None
    t_start = time.perf_counter()
    found = digit_recognizer()
    if found is None:
        return absent_section("scaling", TITLE, COMMAND)
    load = machine_load()
    results = []
    for rows in args.sizes:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_scaling", "--child", str(rows),
                               "--recipe", args.recipe], cwd=ROOT, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"scaling child for {rows} rows failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        results.append(json.loads(lines[-1][len("RESULT "):]))
        r = results[-1]
        print(f"{r['rows']} rows: {r['steady_images_per_sec']:.0f} img/s after warm-up "
              f"({r['steady_images_per_cpu_sec']:.0f} per CPU-s), epoch {r['epoch_seconds']:.1f}s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MiB", flush=True)

    rows_out = []
    for r in results:
        rows_out.append(Row(
            f"{r['rows']:,} rows ({r['train_images']:,} train): training images/s after 2 warm steps "
            f"(per CPU-second), whole epoch 1, peak RSS",
            f"{r['steady_images_per_sec']:.0f} img/s ({r['steady_images_per_cpu_sec']:.0f} per CPU-s); epoch 1 "
            f"{r['epoch_seconds']:.1f} s incl. tracing and validation ({r['epoch_images_per_sec']:.0f} img/s as kk "
            f"logs it); peak {r['peak_rss_mb']:.0f} MiB (after imports {r['rss_after_imports_mb']:.0f} MiB)",
            extra=r))
    small, large = results[0], results[-1]
    cpu_rates = [r["steady_images_per_cpu_sec"] for r in results]
    spread = max(cpu_rates) / min(cpu_rates)
    wall_rates = [r["steady_images_per_sec"] for r in results]
    rows_out.append(Row("linear cost: largest / smallest training rate over the sizes, per CPU-second (1.0 = every "
                        "image costs the same whatever the set size)",
                        f"{spread:.2f}x (wall clock: {max(wall_rates) / min(wall_rates):.2f}x)", "<= 1.25x",
                        spread <= 1.25))
    added = large["rows"] - small["rows"]
    growth = large["peak_rss_mb"] - small["peak_rss_mb"]
    float_copy = added * 784 * 4 / 2**20
    rows_out.append(Row(f"peak RSS growth {small['rows']:,} -> {large['rows']:,} rows vs one float32 copy of the "
                        f"added rows ({float_copy:.0f} MiB; a uint8 copy: {float_copy / 4:.0f} MiB)",
                        f"{growth:+.0f} MiB ({growth * 2**20 / max(added, 1):.0f} bytes per added row)",
                        f"< {float_copy:.0f} MiB", growth < float_copy))
    notes = [
        f"Recipe {args.recipe}, fold 0 of its {small['folds']} folds (so {1 - 1 / small['folds']:.0%} of the rows "
        f"train), 1 epoch, each size in a fresh process; {load} at the start.",
        "Training rate = images of steps 3..N of the epoch over their time (tracing and pipeline start-up excluded); "
        "per CPU-second divides by this process's CPU time instead of wall time, which other processes' load "
        "moves much less. Peak RSS is ru_maxrss of each size's own process.",
    ]
    return publish("scaling", TITLE, COMMAND, argv, rows_out, notes, t_start, save_it=not args.no_save)


if __name__ == "__main__":
    main()
