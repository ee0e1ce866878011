"""Data loading of the full digit-recognizer train.csv + test.csv: kk cold and warm vs the seeds' readers.

    python -m benchmarks.bench_loading [--repeats 5]

kk cold = no kk cache (the CSV itself may sit in the OS page cache, as it does for every reader here);
kk warm = from the `.kk-cache` beside the data. Targets (issue 7): warm >= 20x faster than pandas, cold no
slower than pandas; and (issue 2) train.csv cold well under 2 s, warm under 0.2 s.
"""

from __future__ import annotations

import argparse
import shutil
import time

import numpy as np

from benchmarks.common import Row, Section, Stat, full_size_store, save, timed

COMMAND = "python -m benchmarks.bench_loading"


def main(argv: list[str] | None = None) -> Section | None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    store = full_size_store()
    if store is None:
        return None
    import pandas as pd

    from kaggle_kit.loading import CACHE_DIR, read_pixel_csv

    data = store / "digit-recognizer" / "data"
    train, test = data / "train.csv", data / "test.csv"

    def kk_load():
        a = read_pixel_csv(train, label_column="label")
        b = read_pixel_csv(test)
        np.asarray(a.images).sum(dtype=np.int64)  # touch the pages: a memory map is not a load
        np.asarray(b.images).sum(dtype=np.int64)
        return a.from_cache

    def kk_cold():
        shutil.rmtree(data / CACHE_DIR, ignore_errors=True)
        return kk_load()

    def pandas_load():
        df = pd.read_csv(train)
        x = df.drop(columns="label").values.astype(np.uint8).reshape(-1, 28, 28, 1)
        t = pd.read_csv(test).values.astype(np.uint8).reshape(-1, 28, 28, 1)
        return x.shape, t.shape

    read_pixel_csv(train, label_column="label")  # import pyarrow etc. outside the timed region
    cold, hit = [], []
    warm_t, pandas_t = [], []
    for _ in range(args.repeats):  # interleaved, so drift hits all readers alike
        s, was_hit = timed(kk_cold, 1)
        cold.append(s.median)
        assert not was_hit
        s, was_hit = timed(kk_load, 1)
        warm_t.append(s.median)
        hit.append(was_hit)
        s, _ = timed(pandas_load, 1)
        pandas_t.append(s.median)
    assert all(hit)
    train_cold, _ = timed(lambda: (shutil.rmtree(data / CACHE_DIR, ignore_errors=True),
                                   read_pixel_csv(train, label_column="label")), args.repeats)
    train_warm, _ = timed(lambda: np.asarray(read_pixel_csv(train, label_column="label").images).sum(), args.repeats)
    start = time.perf_counter()
    np.loadtxt(train, delimiter=",", skiprows=1, dtype=np.uint8)
    loadtxt = time.perf_counter() - start

    c, w, p = Stat.of(cold), Stat.of(warm_t), Stat.of(pandas_t)
    speedup_warm = Stat.of([pt / wt for pt, wt in zip(pandas_t, warm_t)])
    ratio_cold = Stat.of([ct / pt for ct, pt in zip(cold, pandas_t)])
    rows = [
        Row("train.csv cold (kk, no cache; includes writing the cache)", train_cold.fmt(" s"), "< 2 s",
            train_cold.median < 2.0),
        Row("train.csv warm (kk cache)", train_warm.fmt(" s", 4), "< 0.2 s", train_warm.median < 0.2),
        Row("train+test: kk cold", c.fmt(" s")),
        Row("train+test: kk warm", w.fmt(" s", 4)),
        Row("train+test: pandas.read_csv + reshape (seeds 000/001/003/004)", p.fmt(" s")),
        Row("train.csv: np.loadtxt (seed 002), one run", f"{loadtxt:.2f} s"),
        Row("speed-up kk warm vs pandas (per repeat)", speedup_warm.fmt("x", 0), ">= 20x", speedup_warm.median >= 20),
        Row("kk cold / pandas time (per repeat)", ratio_cold.fmt("x", 2), "<= 1.0x", ratio_cold.median <= 1.0),
    ]
    section = Section("loading", "Data loading (full digit-recognizer)", COMMAND, rows,
                      notes=["Warm reads memory-map the cached .npy; the benchmark sums every pixel so the pages are "
                             "really read."])
    save(section)
    for r in rows:
        print(f"{r.what}: {r.value}" + (f"  [target {r.target}: {'met' if r.met else 'MISSED'}]" if r.target else ""))
    return section


if __name__ == "__main__":
    main()
