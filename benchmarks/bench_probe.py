"""The invariance probe on competitions of different kinds: does it keep flips for the stand-in and drop them for digits?

    python -m benchmarks.bench_probe                       # digit-recognizer, Kannada-MNIST, mirror-pairs
    python -m benchmarks.bench_probe --competition Kannada-MNIST --minutes 1

Runs `run_probe` (what `kk train` runs first with the default recipe's `probe = "auto"`) on each full-size
competition with the default recipe: one instrument model trained for `--minutes` on a stratified 6,000-row
sample of the training rows, then scored on its held-out 1,200 rows as they are, flipped and rotated. No test
row or solution is read. Which families *should* hold is known by construction for these three: flips change a
digit (Western or Kannada) and keep a mirror-pair's class; small rotations keep all three.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks.bench_budget import open_competition
from benchmarks.common import Row, machine_load, publish

COMMAND = "python -m benchmarks.bench_probe"
TITLE = "Invariance probe across image kinds (which augmentation families keep the class)"
EXPECTED = {"digit-recognizer": {"hflip": False, "rotate": True}, "Kannada-MNIST": {"hflip": False, "rotate": True},
            "mirror-pairs": {"hflip": True, "rotate": True}}


def measure(name: str, minutes: float) -> Row | None:
    from kaggle_kit.training.probe import describe, run_probe
    from kaggle_kit.training.recipes import load_recipe
    from kaggle_kit.training.reporting import PlainReporter

    opened = open_competition(name)  # (competition, solution.csv); the probe never reads the solution
    if opened is None:
        print(f"{name}: absent", file=sys.stderr)
        return None
    competition = opened[0]
    load = machine_load()
    result = run_probe(competition, load_recipe("default"), minutes, PlainReporter())
    families = ", ".join(f"{k} {result['accuracies'][k]:.4f} (retention {result['retention'][k]:.2f}, "
                         f"{'holds' if result['verdicts'].get(k) else 'does not hold'})" for k in result["accuracies"])
    value = (f"instrument {result['clean_accuracy']:.4f} after {result['epochs']} epochs in {result['seconds']:.0f} s; "
             f"{families}; trains with {describe(result['augment'])}; {load}")
    expected = EXPECTED.get(name)
    return Row(f"{name}, default recipe, probe {minutes:g} min", value,
               target=f"verdicts {expected}" if expected else "", met=expected == result["verdicts"] if expected
               else None, extra={"result": {k: v for k, v in result.items() if k != "transforms"}})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--competition", action="append", choices=sorted(EXPECTED))
    ap.add_argument("--minutes", type=float, default=1.0)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    rows = [r for name in (args.competition or list(EXPECTED)) if (r := measure(name, args.minutes))]
    notes = ["Retention = (accuracy on transformed rows - chance) / (clean accuracy - chance); a family holds at "
             ">= 0.75 (kaggle_kit/training/probe.py). The instrument never sees a flipped or rotated image."]
    publish("probe", TITLE, COMMAND, argv, rows, notes, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
