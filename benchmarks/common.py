"""What every benchmark shares: the full-size data, repeated timing, and the results files.

Speed figures are ratios of two things measured in the same process, repeated, and reported as median and
spread (min..max), because these machines are shared and noisy.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
DATA_DIR = Path(os.environ.get("KK_BENCH_DATA", ROOT / "benchmarks" / ".data"))
MAKE_COMPETITIONS = ROOT.parent / "shared" / "data" / "make_competitions.py"
# TensorFlow's C++ start-up chatter says nothing a benchmark reader needs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def full_size_store() -> Path | None:
    """The full-size competitions built by ../shared/data/make_competitions.py (built once, then reused)."""
    if (DATA_DIR / "digit-recognizer" / "solution.csv").is_file():
        return DATA_DIR
    if not MAKE_COMPETITIONS.is_file():
        print(f"full-size data absent: {MAKE_COMPETITIONS} not found (set KK_BENCH_DATA to a store)", file=sys.stderr)
        return None
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(MAKE_COMPETITIONS), str(DATA_DIR)], check=True)
    return DATA_DIR


def digit_recognizer():
    """The full-size digit-recognizer as a `Competition` and its `solution.csv` path, or None when absent."""
    store = full_size_store()
    if store is None:
        return None
    from kaggle_kit.competition import Competition

    root = store / "digit-recognizer"
    return Competition.open(root / "data"), root / "solution.csv"


def score_submission(submission: Path, solution: Path) -> dict[str, float]:
    """Accuracy of a submission CSV against a Kaggle-style `solution.csv` (id, label, Usage): all/public/private."""
    import pandas as pd

    sol = pd.read_csv(solution, dtype=str)
    correct = _rows_right(pd.read_csv(submission, dtype=str), sol)
    out = {"all": float(correct.mean()), "n": int(len(sol))}
    for usage in ("Public", "Private"):
        mask = (sol["Usage"] == usage).to_numpy()
        if mask.any():
            out[usage.lower()] = float(correct[mask].mean())
    return out


def _rows_right(sub, sol) -> np.ndarray:
    """Per row of `sol` (a solution.csv frame, in its order): does `sub` give its label? A missing row is wrong."""
    id_col, label_col = sol.columns[0], sol.columns[1]
    merged = sol.merge(sub[[id_col, label_col]].rename(columns={label_col: "_pred"}), on=id_col, how="left")
    return (merged[label_col] == merged["_pred"]).to_numpy()


def compare_submissions(a: Path, b: Path, solution: Path) -> dict:
    r"""Two submissions scored on the same rows of `solution.csv`: accuracies, the rows only one gets right, and
    the exact McNemar test on those (two-sided; p small = the gap is not the luck of which rows were drawn).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "sol.csv").write_text("ImageId,Label,Usage\n1,3,Public\n2,4,Private\n3,5,Private\n")
        >>> _ = (d / "a.csv").write_text("ImageId,Label\n1,3\n2,4\n3,0\n")
        >>> _ = (d / "b.csv").write_text("ImageId,Label\n3,5\n1,0\n2,0\n")
        >>> c = compare_submissions(d / "a.csv", d / "b.csv", d / "sol.csv")
        >>> (c["only_a"], c["only_b"], round(c["a"], 3), round(c["b"], 3), c["mcnemar_p"])
        (2, 1, 0.667, 0.333, 1.0)
    """
    import pandas as pd
    from scipy.stats import binomtest

    sol = pd.read_csv(solution, dtype=str)
    right = [_rows_right(pd.read_csv(path, dtype=str), sol) for path in (a, b)]
    only_a, only_b = int((right[0] & ~right[1]).sum()), int((right[1] & ~right[0]).sum())
    p = float(binomtest(only_a, only_a + only_b, 0.5).pvalue) if only_a + only_b else 1.0
    return {"rows": len(sol), "a": float(right[0].mean()), "b": float(right[1].mean()), "only_a": only_a,
            "only_b": only_b, "mcnemar_p": p}


def absent_section(name: str, title: str, command: str) -> Section:
    """What a benchmark saves when the full-size data cannot be built: says so instead of inventing figures."""
    return Section(name, title, command, [Row("full-size data", "absent", "", None)],
                   notes=[f"{MAKE_COMPETITIONS} not found and KK_BENCH_DATA not set: nothing measured."])


@dataclass
class Stat:
    """Median and spread of repeated measurements."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def fmt(self, unit: str = "", digits: int = 3) -> str:
        return f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}..{self.high:.{digits}f}, n={self.n})"


def timed(fn: Callable[[], object], repeats: int) -> tuple[Stat, object]:
    """Run `fn` `repeats` times; wall seconds as a Stat, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return Stat.of(times), result


def interleaved(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, list]:
    """Run every variant once per round, `repeats` rounds, alternating the order (forward, reversed, ...).

    Drift from other processes on the machine then hits all variants alike; ratios are taken per round.
    """
    names = list(variants)
    out: dict[str, list] = {n: [] for n in names}
    for r in range(repeats):
        for n in names if r % 2 == 0 else names[::-1]:
            out[n].append(variants[n]())
    return out


def ratios(a: list[float], b: list[float]) -> Stat:
    """Per-round ratios a[i] / b[i] as a Stat."""
    return Stat.of([x / y for x, y in zip(a, b)])


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (MiB; Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """This process's resident set size now (MiB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def machine_load() -> str:
    """Load averages at measurement time (others' processes share these cores)."""
    try:
        one, five, _ = os.getloadavg()
        return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"
    except OSError:
        return "load average unknown"


@dataclass
class Row:
    """One line of a benchmark's table."""

    what: str
    value: str
    target: str = ""
    met: bool | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Section:
    name: str
    title: str
    command: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    seconds: float | None = None  # how long the benchmark took, wall clock
    date: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    machine: str = field(default_factory=lambda: f"{platform.machine()}, {os.cpu_count()} cores, "
                                                 f"python {platform.python_version()}")


def save(section: Section) -> None:
    """Merge one benchmark's section into results/latest.json and regenerate BENCHMARKS.md."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    latest = RESULTS_DIR / "latest.json"
    data = json.loads(latest.read_text()) if latest.is_file() else {}
    data[section.name] = asdict(section)
    from kaggle_kit.io import atomic_write_json, atomic_write_text

    atomic_write_json(latest, data)
    atomic_write_text(ROOT / "BENCHMARKS.md", render_markdown(data))


def save_meta(key: str, value: dict) -> None:
    """Record run-level facts (e.g. the fast subset's total wall time) under `_meta` in latest.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    latest = RESULTS_DIR / "latest.json"
    data = json.loads(latest.read_text()) if latest.is_file() else {}
    data.setdefault("_meta", {})[key] = value
    from kaggle_kit.io import atomic_write_json, atomic_write_text

    atomic_write_json(latest, data)
    atomic_write_text(ROOT / "BENCHMARKS.md", render_markdown(data))


def report(section: Section) -> None:
    """Print a section's rows (and whether each target was met) to stdout."""
    print(f"== {section.title}")
    for r in section.rows:
        tail = f"  [target {r.target}: {'met' if r.met else 'MISSED'}]" if r.target and r.met is not None else ""
        print(f"  {r.what}: {r.value}{tail}")
    for n in section.notes:
        print(f"  - {n}")


ORDER = ["loading", "pipeline", "augmentation", "inference", "scaling", "accuracy", "budget", "probe"]


def render_markdown(data: dict) -> str:
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (fast subset) and `make bench-accuracy` from `benchmarks/results/latest.json`;",
        "do not edit by hand. Figures are medians with (min..max, n=repeats); ratios compare two things measured in",
        "the same process. Full-size data comes from `../shared/data/make_competitions.py`.",
        "",
        "Run them: `make bench` (= `python -m benchmarks.run --fast`), `make bench-accuracy` (hours, resumable),",
        "or one at a time: `python -m benchmarks.run --only NAME [ARGS]` (`--list` names them; `ARGS` go to the",
        "benchmark, e.g. `--only accuracy --recipe default --budget 10`).",
        "",
    ]
    sections = [n for n in sorted(data, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
                if not n.startswith("_")]
    meta = data.get("_meta", {})
    if "fast" in meta:
        m = meta["fast"]
        out += [f"Last `{m['command']}`: {m['seconds'] / 60:.1f} min wall for {', '.join(m['benchmarks'])} "
                f"({m['date']}; target: under 15 min).", ""]
    targets = [(data[n]["title"], r) for n in sections for r in data[n]["rows"] if r.get("target")]
    if targets:
        out += ["## Targets at a glance", "", "| benchmark | what | measured | target | met |", "|---|---|---|---|---|"]
        for title, r in targets:
            met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
            out.append(f"| {title} | {r['what']} | {r['value']} | {r['target']} | {met} |")
        out.append("")
    for name in sections:
        s = data[name]
        took = f" (took {s['seconds'] / 60:.1f} min)" if s.get("seconds") else ""
        out += [f"## {s['title']}", "", f"Measured {s['date']} on {s['machine']} with `{s['command']}`{took}.", ""]
        out += ["| what | measured | target | met |", "|---|---|---|---|"]
        for r in s["rows"]:
            met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
            out.append(f"| {r['what']} | {r['value']} | {r['target']} | {met} |")
        out.append("")
        out += [f"- {n}" for n in s["notes"]]
        if s["notes"]:
            out.append("")
    return "\n".join(out)


def publish(name: str, title: str, command: str, argv: list[str] | None, rows: list[Row], notes: list[str],
            started: float, save_it: bool = True) -> Section:
    """The end of every benchmark: its section (command line as run, wall time), saved unless asked not to, printed."""
    section = Section(name, title, command + (" " + " ".join(argv) if argv else ""), rows, notes=notes,
                      seconds=time.perf_counter() - started)
    if save_it:
        save(section)
    report(section)
    return section

