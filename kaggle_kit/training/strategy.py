"""Devices: pick the distribution strategy, say what was found in one stable line, seed everything.

`detect_strategy()` follows the Keras backend. On JAX (what a TPU kernel selects: Kaggle's TPU image ships
tensorflow-cpu, so only JAX reaches the TPU) it distributes data-parallel over every JAX device
(`keras.distribution.DataParallel`) with `mixed_bfloat16` on a TPU. On TensorFlow it tries, in order: a TPU
(`TPUClusterResolver`, `tpu="local"` on a TPU VM; a failure falls back and is kept in `LAST_TPU_ERROR` for the
kernel to report), several GPUs (`MirroredStrategy`), else the default strategy (one GPU or the CPU). Mixed
precision (`mixed_float16`) is switched on only when asked for and a GPU is used.

Simulation (`kk run-kernel --image kaggle-gpu|kaggle-tpu` on a machine without the accelerator):
`KK_SIMULATED_GPUS=N` splits the CPU into N logical devices under `MirroredStrategy`, `KK_SIMULATED_TPU=N` (with
`XLA_FLAGS=--xla_force_host_platform_device_count=N`) counts N JAX host devices as a TPU. Both say
`simulated on N CPU devices` in the strategy's name, so a log never passes a simulation off as the real thing.

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
    policy: str = "mixed_float16"  # the mixed-precision policy when `mixed_precision` (mixed_bfloat16 on a TPU)
    backend: str = "tensorflow"

    def describe(self) -> str:
        """One line, format documented in the module docstring (parsed by `parse_strategy_line`)."""
        line = (
            f"strategy: {self.kind} ({self.name}), {self.replicas} replica{'s' if self.replicas != 1 else ''}, "
            f"devices: {', '.join(self.devices) or '?'}"
        )
        return line + (f" | mixed precision: {self.policy}" if self.mixed_precision else "")


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
        "policy": m["policy"],
        "simulated": "simulated" in m["name"],
    }


def _short(device_name: str) -> str:
    """'/physical_device:GPU:0' or '/job:localhost/replica:0/task:0/device:GPU:0' -> '/GPU:0'."""
    tail = device_name.split("device:")[-1]
    return "/" + tail.lstrip("/")


LAST_TPU_ERROR: str | None = None  # why the TPU resolver failed, for the kernel's "no TPU" message


def _try_tpu():
    import tensorflow as tf

    global LAST_TPU_ERROR
    try:
        # On a TPU VM (Kaggle's TPU image sets ISTPUVM) the TPU is attached to this host: "local".
        local = bool(os.environ.get("ISTPUVM")) and not os.environ.get("TPU_NAME")
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local" if local else None)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
    except Exception as exc:  # no TPU (ValueError), unreachable or already initialised: fall back like notebook 003
        LAST_TPU_ERROR = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        return None
    devices = [_short(d.name) for d in tf.config.list_logical_devices("TPU")]
    return strategy, devices


class JaxDataParallel:
    """What `strategy.scope()` callers need on JAX: `keras.distribution` places variables and batches, so the
    scope is empty; `num_replicas_in_sync` is the device count."""

    def __init__(self, devices: list):
        self.devices = devices
        self.num_replicas_in_sync = len(devices)

    def scope(self):
        import contextlib

        return contextlib.nullcontext()


def _simulated(name: str) -> int:
    try:
        return max(0, int(os.environ.get(name, "0")))
    except ValueError:
        return 0


def _jax_strategy(mixed_precision: bool | None) -> StrategyInfo:
    import jax
    import keras

    devices = jax.devices()
    platform = devices[0].platform
    simulated = _simulated("KK_SIMULATED_TPU") if platform == "cpu" else 0
    kind: Kind = "tpu" if platform == "tpu" or simulated else "gpu" if platform in ("gpu", "cuda") else "cpu"
    if kind == "gpu" and len(devices) > 1:
        kind = "multi_gpu"
    if len(devices) > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
    name = "DataParallel on jax" + (f"; simulated on {len(devices)} CPU devices" if simulated else "")
    label = "TPU" if simulated else platform.upper()
    info = StrategyInfo(JaxDataParallel(devices), kind, [f"/{label}:{d.id}" for d in devices], len(devices),
                        name=name, backend="jax")
    # bfloat16 is the TPU's native compute type (no loss scaling needed); GPUs keep float16 and only when asked.
    if kind == "tpu":
        info.mixed_precision, info.policy = True, "mixed_bfloat16"
    else:
        info.mixed_precision = bool((mixed_precision is None or mixed_precision) and kind in ("gpu", "multi_gpu"))
    keras.mixed_precision.set_global_policy(info.policy if info.mixed_precision else "float32")
    return info


def _simulated_gpus(tf, n: int):
    """`n` logical CPU devices under MirroredStrategy, standing in for `n` GPUs (kk run-kernel --image kaggle-gpu)."""
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:  # already initialised (a second call in one process): use what is there
        pass
    logical = [d.name for d in tf.config.list_logical_devices("CPU")][:n]
    strategy = tf.distribute.MirroredStrategy(devices=logical)
    return StrategyInfo(strategy, "multi_gpu", [_short(d) for d in logical], strategy.num_replicas_in_sync, False,
                        f"MirroredStrategy; simulated on {len(logical)} CPU devices")


def detect_strategy(mixed_precision: bool | None = None) -> StrategyInfo:
    """Pick TPUStrategy, MirroredStrategy or the default strategy (JAX: DataParallel); set the dtype policy.

    `mixed_precision`: True/False as a recipe says; None (the default) switches `mixed_float16` on wherever a real
    GPU is used (tensor cores roughly double a T4's throughput) and off elsewhere.

    The Keras global dtype policy is set here either way (`mixed_float16`, `mixed_bfloat16` or `float32`), so
    build models after calling this.
    """
    import keras

    if keras.backend.backend() == "jax":
        return _jax_strategy(mixed_precision)
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
        elif _simulated("KK_SIMULATED_GPUS") > 1:
            info = _simulated_gpus(tf, _simulated("KK_SIMULATED_GPUS"))
        else:
            info = StrategyInfo(tf.distribute.get_strategy(), "cpu", ["/CPU:0"], 1)
    # float16 on CPU devices standing in for GPUs would only measure slow emulated half precision.
    simulated = "simulated" in info.name
    wanted = True if mixed_precision is None else mixed_precision
    info.mixed_precision = bool(wanted and info.kind in ("gpu", "multi_gpu") and not simulated)
    keras.mixed_precision.set_global_policy("mixed_float16" if info.mixed_precision else "float32")
    return info


def fresh_session() -> None:
    """`keras.backend.clear_session()` (frees the previous model's graphs and layers) keeping what
    `detect_strategy` set: clear_session also resets the dtype policy and the `keras.distribution`, after which a
    JAX data-parallel run would silently go on on one device."""
    import keras

    policy = keras.config.dtype_policy()
    distribution = keras.distribution.distribution()
    keras.backend.clear_session()
    keras.config.set_dtype_policy(policy)
    if distribution is not None:
        keras.distribution.set_distribution(distribution)


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
