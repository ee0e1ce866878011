"""Run kk's benchmarks; each writes its section of benchmarks/results/latest.json and BENCHMARKS.md.

    python -m benchmarks.run --fast                 # make bench: loading, pipeline, augmentation, inference,
                                                    #   then scaling when it still fits in the 15-minute budget
    python -m benchmarks.run --accuracy             # make bench-accuracy: the long accuracy benchmark (hours)
    python -m benchmarks.run --only NAME [ARGS...]  # one benchmark; ARGS go to it, e.g.
    python -m benchmarks.run --only accuracy --recipe default --budget 10

Every benchmark runs in a fresh Python process (its own TensorFlow thread settings and peak memory), one after
the other, never in parallel: they measure speed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone

from benchmarks.common import RESULTS_DIR, ROOT, save_meta

BENCHMARKS = {
    "loading": "data loading: kk cold/warm vs pandas and np.loadtxt",
    "pipeline": "training input pipeline: kk vs bare fit, ImageDataGenerator, albumentations Sequence, seed 003",
    "augmentation": "augmentation back ends alone, images per CPU-second",
    "inference": "K folds x (1 + TTA) over the test set: kk predict vs seed 001's TTA loop",
    "scaling": "training images/s and peak RSS at 10k, 20k, 42k rows",
    "accuracy": "accuracy at equal wall-clock budgets per recipe, and the default K-fold ensemble (hours)",
    "budget": "kk train --budget (+ augmentation probe) on the non-digit stand-in mirror-pairs, one fold",
}
FAST = ["loading", "pipeline", "augmentation", "inference"]
FAST_BUDGET_S = 15 * 60
SCALING_GUESS_S = 300  # used until a scaling run has recorded its own duration


def run_one(name: str, args: list[str]) -> float:
    """Run `benchmarks.bench_<name>` in a fresh process; return its wall seconds (raises on failure)."""
    print(f"\n### {name}: {BENCHMARKS[name]}", flush=True)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.bench_{name}", *args], cwd=ROOT)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"benchmark {name} failed (exit {proc.returncode}) after {seconds:.0f} s")
    print(f"### {name}: {seconds:.0f} s", flush=True)
    return seconds


def _last_seconds(name: str) -> float | None:
    latest = RESULTS_DIR / "latest.json"
    if not latest.is_file():
        return None
    return (json.loads(latest.read_text()).get(name) or {}).get("seconds")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--fast", action="store_true", help=f"{', '.join(FAST)} (+ scaling if it fits)")
    mode.add_argument("--accuracy", action="store_true", help="the accuracy benchmark (hours)")
    mode.add_argument("--only", choices=list(BENCHMARKS), help="one benchmark; further arguments go to it")
    mode.add_argument("--list", action="store_true", help="list the benchmarks")
    ap.add_argument("--scaling", choices=["auto", "yes", "no"], default="auto",
                    help="with --fast: run scaling always, never, or when it fits the budget (default)")
    args, rest = ap.parse_known_args(argv)
    if args.list:
        for name, what in BENCHMARKS.items():
            print(f"{name:13s} {what}")
        return 0
    if args.only:
        run_one(args.only, rest)
        return 0
    if args.accuracy:
        run_one("accuracy", rest)
        return 0
    if rest:
        ap.error(f"unrecognized arguments for --fast: {' '.join(rest)}")
    t0 = time.perf_counter()
    done = []
    for name in FAST:
        run_one(name, [])
        done.append(name)
    elapsed = time.perf_counter() - t0
    guess = _last_seconds("scaling") or SCALING_GUESS_S
    if args.scaling == "yes" or (args.scaling == "auto" and elapsed + 1.1 * guess <= FAST_BUDGET_S):
        run_one("scaling", [])
        done.append("scaling")
    elif args.scaling == "auto":
        print(f"\nscaling skipped: {elapsed / 60:.1f} min elapsed + ~{guess / 60:.1f} min would pass the "
              f"{FAST_BUDGET_S / 60:.0f}-minute budget; run it alone: python -m benchmarks.run --only scaling")
    total = time.perf_counter() - t0
    save_meta("fast", {"command": "python -m benchmarks.run --fast", "seconds": total, "benchmarks": done,
                       "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")})
    print(f"\nfast benchmarks ({', '.join(done)}): {total / 60:.1f} min "
          f"({'within' if total <= FAST_BUDGET_S else 'OVER'} the {FAST_BUDGET_S // 60}-minute budget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
