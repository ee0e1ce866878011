"""Devices: pick the distribution strategy, say what was found in one stable line, seed everything.

`detect_strategy()` tries, in order: a TPU (`TPUClusterResolver`; any failure falls back, as notebook 003 did),
several GPUs (`MirroredStrategy`), else TensorFlow's default strategy (one GPU or the CPU). Mixed precision
(`mixed_float16`) is switched on only when asked for and a GPU is used.

`StrategyInfo.describe()` prints the line kernels log and `kk` parses back (`parse_strategy_line`). Its format
is stable:

    strategy: <kind> (<name>), <n> replica[s], devices: <device>[, <device>...][ | mixed precision: <policy>]

e.g. `strategy: cpu (default), 1 replica, devices: /CPU:0` or
`strategy: multi_gpu (MirroredStrategy), 2 replicas, devices: /GPU:0, /GPU:1 | mixed precision: mixed_float16`.

Example:

    info = detect_strategy(mixed_precision=True)
    print(info.describe())
    with info.strategy.scope():
        model = build_model(...)
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["tpu", "multi_gpu", "gpu", "cpu"]
LINE_RE = re.compile(
    r"^strategy: (?P<kind>tpu|multi_gpu|gpu|cpu) \((?P<name>[^)]*)\), (?P<replicas>\d+) replicas?, "
    r"devices: (?P<devices>.*?)(?: \| mixed precision: (?P<policy>\S+))?$"
)


@dataclass
class StrategyInfo:
    """What `detect_strategy` found. `strategy` is a `tf.distribute.Strategy`."""

    strategy: Any
    kind: Kind
    devices: list[str] = field(default_factory=list)
    replicas: int = 1
    mixed_precision: bool = False
    name: str = "default"

    def describe(self) -> str:
        """One line, format documented in the module docstring (parsed by `parse_strategy_line`)."""
        line = (
            f"strategy: {self.kind} ({self.name}), {self.replicas} replica{'s' if self.replicas != 1 else ''}, "
            f"devices: {', '.join(self.devices) or '?'}"
        )
        return line + (" | mixed precision: mixed_float16" if self.mixed_precision else "")


def parse_strategy_line(line: str) -> dict | None:
    """Parse a `describe()` line (e.g. from a kernel log) into a dict; None when `line` is not one."""
    m = LINE_RE.match(line.strip())
    if not m:
        return None
    return {
        "kind": m["kind"],
        "name": m["name"],
        "replicas": int(m["replicas"]),
        "devices": m["devices"].split(", "),
        "mixed_precision": m["policy"] is not None,
    }


def _short(device_name: str) -> str:
    """'/physical_device:GPU:0' or '/job:localhost/replica:0/task:0/device:GPU:0' -> '/GPU:0'."""
    tail = device_name.split("device:")[-1]
    return "/" + tail.lstrip("/")


def _try_tpu():
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
    except Exception:  # no TPU (ValueError), unreachable or already initialised: fall back like notebook 003
        return None
    devices = [_short(d.name) for d in tf.config.list_logical_devices("TPU")]
    return strategy, devices


def detect_strategy(mixed_precision: bool = False) -> StrategyInfo:
    """Pick TPUStrategy, MirroredStrategy or the default strategy; set the mixed-precision policy on GPU.

    The Keras global dtype policy is set here either way (`mixed_float16` or `float32`), so build models after
    calling this.
    """
    import keras
    import tensorflow as tf

    info: StrategyInfo
    tpu = _try_tpu() if os.environ.get("KK_NO_TPU") != "1" else None
    if tpu is not None:
        strategy, devices = tpu
        info = StrategyInfo(strategy, "tpu", devices, strategy.num_replicas_in_sync, False, "TPUStrategy")
    else:
        gpus = tf.config.list_physical_devices("GPU")
        if len(gpus) > 1:
            strategy = tf.distribute.MirroredStrategy()
            devices = [_short(d) for d in strategy.extended.worker_devices]
            info = StrategyInfo(strategy, "multi_gpu", devices, strategy.num_replicas_in_sync, False,
                                "MirroredStrategy")
        elif gpus:
            info = StrategyInfo(tf.distribute.get_strategy(), "gpu", [_short(gpus[0].name)], 1)
        else:
            info = StrategyInfo(tf.distribute.get_strategy(), "cpu", ["/CPU:0"], 1)
    info.mixed_precision = bool(mixed_precision and info.kind in ("gpu", "multi_gpu"))
    keras.mixed_precision.set_global_policy("mixed_float16" if info.mixed_precision else "float32")
    return info


def set_determinism(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; with `deterministic`, also make TF ops deterministic.

    Op determinism (`tf.config.experimental.enable_op_determinism`) makes GPU kernels and tf.data ordering
    repeatable at some speed cost; ops without a deterministic implementation then raise instead of varying.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)  # affects subprocesses only; hashing in this one is already fixed
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # python, numpy, tensorflow and keras' own seed generator
    if deterministic:
        tf.config.experimental.enable_op_determinism()
