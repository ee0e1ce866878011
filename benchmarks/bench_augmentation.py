"""Augmentation alone: images per CPU-second (= images/s per fully used core) for each back end, 28x28 batches.

    python -m benchmarks.bench_augmentation [--batch-size 128] [--seconds 1.5] [--repeats 3]

TensorFlow and OpenCV are pinned to one thread and each figure divides the images produced by the CPU time this
process used, so it is a per-core cost that other processes' load does not inflate. Every back end applies the
same geometric settings (rotation 10 deg, shear 5 deg, zoom 0.1, shift 0.1, on every image):

- albumentations: kk's albumentations back end (`make_albumentations_augment`: `A.Affine` per image in Python);
  also with every extra switched on (grid distortion, brightness/contrast, gamma, crop);
- graph: kk's in-graph batched affine (`make_graph_augment`: one `ImageProjectiveTransformV3` per batch);
- ImageDataGenerator: the Keras 2 class (`flow`, per-image scipy affine) with equivalent settings;
- seed 003's per-image in-graph map (tf.data `map` over single images, then `batch`);
- kk's whole tf.data input pipeline (shuffle, gather, one-hot, graph affine, prefetch) on one thread.

Host cores needed to keep an accelerator fed = R / r, where R is the accelerator's training rate (images/s)
for the model at hand and r this table's images per CPU-second of the pipeline that runs on the host.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import (
    Row,
    Section,
    Stat,
    absent_section,
    digit_recognizer,
    interleaved,
    machine_load,
    publish,
)

COMMAND = "python -m benchmarks.bench_augmentation"
TITLE = "Augmentation alone (images per CPU-second, 28x28)"
ACCELERATOR_RATES = (5_000, 20_000, 50_000)  # illustrative training rates (img/s); no accelerator is measured here


def _pin_threads() -> str:
    import cv2
    import tensorflow as tf

    cv2.setNumThreads(1)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        return "TensorFlow and OpenCV pinned to 1 thread"
    except RuntimeError:  # TensorFlow already started in this process (called from another benchmark)
        return "OpenCV pinned to 1 thread; TensorFlow had already started, so its thread pools were not pinned"


def main(argv: list[str] | None = None) -> Section:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=1.5, help="minimum CPU seconds per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    found = digit_recognizer()
    if found is None:
        return absent_section("augmentation", TITLE, COMMAND)
    comp, _ = found
    pinned = _pin_threads()

    import tensorflow as tf

    from benchmarks import seed_pipelines as sp
    from kaggle_kit.training.augment import make_albumentations_augment, make_graph_augment
    from kaggle_kit.training.config import AugmentConfig
    from kaggle_kit.training.data import train_dataset

    B = args.batch_size
    x_all, y_all = comp.train_arrays()
    x = np.ascontiguousarray(x_all[: B * 64])
    y = y_all[: B * 64]
    shape = tuple(x.shape[1:])
    batches = [x[i * B:(i + 1) * B] for i in range(len(x) // B)]
    geo = dict(rotation=10.0, shear=5.0, zoom=0.1, shift=0.1, p=1.0)
    cfg_graph = AugmentConfig(backend="graph", **geo)
    cfg_albu = AugmentConfig(backend="albumentations", **geo)
    cfg_albu_full = AugmentConfig(backend="albumentations", grid_distortion=0.5, brightness_contrast=0.2, gamma=0.2,
                                  random_crop=0.15, **geo)

    albu = make_albumentations_augment(cfg_albu, shape, seed=0)
    albu_full = make_albumentations_augment(cfg_albu_full, shape, seed=0)
    graph = make_graph_augment(cfg_graph, shape, seed=0)
    graph_fn = tf.function(lambda b: graph(b))
    tf_batches = [tf.constant(b) for b in batches]
    idg = sp.image_data_generator(rotation_range=10, shear_range=5, zoom_range=0.1, width_shift_range=0.1,
                                  height_shift_range=0.1, fill_mode="constant", cval=0)

    def single_thread(ds):
        opts = tf.data.Options()
        opts.threading.private_threadpool_size = 1
        opts.threading.max_intra_op_parallelism = 1
        return ds.with_options(opts)

    per_image = sp.seed003_per_image_affine(shape, rotation=10.0, shear=5.0, height_zoom=1.0, width_zoom=1.0,
                                            height_shift=2.8, width_shift=2.8)

    def seed003_stream():
        ds = tf.data.Dataset.from_tensor_slices((x, y)).map(per_image).repeat().batch(B)
        return iter(single_thread(ds))

    def kk_stream():
        while True:
            yield from single_thread(train_dataset(x, y, 10, B, cfg_graph, seed=0))

    def idg_stream():
        it = idg.flow(x.astype(np.float32), y, batch_size=B, shuffle=True, seed=0)
        while True:
            for i in range(len(it)):
                yield it[i]

    def measure(step) -> tuple[float, float]:
        """(images per CPU-second, images per wall second) of calling `step()` (one batch) for >= args.seconds."""
        step()  # warm: tracing, first-call set-up
        n, c0, t0 = 0, time.process_time(), time.perf_counter()
        while time.process_time() - c0 < args.seconds:
            step()
            n += B
        return n / (time.process_time() - c0), n / (time.perf_counter() - t0)

    def cycling(fn):
        state = {"i": 0}

        def step():
            state["i"] = (state["i"] + 1) % len(batches)
            return fn(state["i"])

        return step

    def streaming(make):
        it = make()
        return lambda: next(it)

    variants = {
        "albumentations (kk back end: A.Affine per image)": cycling(lambda i: albu(batches[i])),
        "albumentations + grid distortion, brightness/contrast, gamma, crop": cycling(lambda i: albu_full(batches[i])),
        "graph (kk back end: batched affine, one op per batch)": cycling(lambda i: graph_fn(tf_batches[i]).numpy()),
        "ImageDataGenerator.flow (Keras 2 class, per-image scipy affine)": streaming(idg_stream),
        "seed 003 per-image in-graph affine (tf.data map per image)": streaming(seed003_stream),
        "kk whole input pipeline (shuffle, gather, one-hot, graph affine)": streaming(kk_stream),
    }
    load = machine_load()
    res = interleaved({k: (lambda s=s: measure(s)) for k, s in variants.items()}, args.repeats)
    per_core = {k: Stat.of([c for c, _ in v]) for k, v in res.items()}
    rows = []
    for k, st in per_core.items():
        wall = Stat.of([w for _, w in res[k]])
        cores = {str(r): r / st.median for r in ACCELERATOR_RATES}
        rows.append(Row(f"{k}: images per CPU-second", st.fmt("", 0),
                        extra={"wall_images_per_s": wall.median, "cores_needed": cores}))
    graph_key = "graph (kk back end: batched affine, one op per batch)"
    albu_key = "albumentations (kk back end: A.Affine per image)"
    idg_key = "ImageDataGenerator.flow (Keras 2 class, per-image scipy affine)"
    kk_key = "kk whole input pipeline (shuffle, gather, one-hot, graph affine)"
    rows.append(Row("graph / albumentations per core", f"{per_core[graph_key].median / per_core[albu_key].median:.1f}x"))
    rows.append(Row("graph / ImageDataGenerator per core",
                    f"{per_core[graph_key].median / per_core[idg_key].median:.1f}x"))
    fed = "; ".join(
        f"R = {r:,} img/s: " + ", ".join(f"{name} {r / per_core[key].median:.2g}"
                                          for name, key in (("kk pipeline", kk_key), ("graph", graph_key),
                                                            ("albumentations", albu_key), ("IDG", idg_key)))
        for r in ACCELERATOR_RATES)
    notes = [
        f"Batch {B} of 28x28x1 uint8 digits; {args.repeats} interleaved rounds of >= {args.seconds} CPU-seconds each; "
        f"{pinned}; {load} at the start.",
        "How many CPU cores keep an accelerator fed: cores = R / r, with R the accelerator's training rate for the "
        "model (images/s) and r the images per CPU-second of the host-side pipeline above (assumes the host does "
        "nothing else per image and scales linearly over cores; add a core for the Python/Keras driver loop).",
        f"Illustrative R (not measured here: no accelerator on this machine) -> cores needed: {fed}.",
        "The graph back end can also run on the accelerator itself (the RandomAffine layer first in the model), "
        "leaving the host only the gather/one-hot/prefetch work.",
    ]
    return publish("augmentation", TITLE, COMMAND, argv, rows, notes, t_start, save_it=not args.no_save)


if __name__ == "__main__":
    main()
