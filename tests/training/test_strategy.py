"""Strategy detection on this machine (CPU), the stable describe() line, and seeding."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kaggle_kit.training.strategy import StrategyInfo, detect_strategy, parse_strategy_line, set_determinism


def test_cpu_machine_gets_the_default_strategy_and_no_mixed_precision():
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    try:
        info = detect_strategy(mixed_precision=True)
        assert info.replicas == info.strategy.num_replicas_in_sync >= 1
        if not has_gpu:
            assert info.kind == "cpu" and info.devices == ["/CPU:0"] and not info.mixed_precision
            assert keras.mixed_precision.global_policy().name == "float32"
            assert info.describe() == "strategy: cpu (default), 1 replica, devices: /CPU:0"
        else:
            assert info.mixed_precision and keras.mixed_precision.global_policy().name == "mixed_float16"
        parsed = parse_strategy_line(info.describe())
        assert parsed["kind"] == info.kind and parsed["devices"] == info.devices
        with info.strategy.scope():
            v = tf.Variable(1.0)
        assert float(v.numpy()) == 1.0
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_describe_line_round_trips_for_every_kind():
    cases = [
        StrategyInfo(None, "tpu", [f"/TPU:{i}" for i in range(8)], 8, False, "TPUStrategy"),
        StrategyInfo(None, "multi_gpu", ["/GPU:0", "/GPU:1"], 2, True, "MirroredStrategy"),
        StrategyInfo(None, "gpu", ["/GPU:0"], 1, True),
        StrategyInfo(None, "cpu", ["/CPU:0"], 1, False),
    ]
    for info in cases:
        line = info.describe()
        assert parse_strategy_line("  " + line + "\n") == {
            "kind": info.kind, "name": info.name, "replicas": info.replicas, "devices": info.devices,
            "mixed_precision": info.mixed_precision, "policy": "mixed_float16" if info.mixed_precision else None,
            "simulated": False,
        }
    assert cases[1].describe() == (
        "strategy: multi_gpu (MirroredStrategy), 2 replicas, devices: /GPU:0, /GPU:1 | mixed precision: mixed_float16"
    )
    assert parse_strategy_line("Epoch 1/3 loss: 0.2") is None


def test_set_determinism_repeats_initialisation_and_random_draws():
    def draw():
        set_determinism(123)
        layer = keras.layers.Dense(4)
        layer.build((None, 3))
        return keras.ops.convert_to_numpy(layer.kernel), np.random.rand(3), tf.random.uniform([2]).numpy()

    first, second = draw(), draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_simulated_gpus_are_two_labelled_cpu_devices_under_mirrored_strategy():
    """What `--image kaggle-gpu` gives a GPU kernel here; run in a fresh process (logical devices are set once)."""
    import os
    import subprocess
    import sys

    code = ("from kaggle_kit.training.strategy import detect_strategy, parse_strategy_line\n"
            "import tensorflow as tf\n"
            "info = detect_strategy()\n"
            "with info.strategy.scope():\n"
            "    v = tf.Variable(2.0)\n"
            "print(info.describe()); print(parse_strategy_line(info.describe())['simulated'], len(v.values))\n")
    env = {**os.environ, "KK_SIMULATED_GPUS": "2", "CUDA_VISIBLE_DEVICES": "", "KK_NO_TPU": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == ("strategy: multi_gpu (MirroredStrategy; simulated on 2 CPU devices), 2 replicas, "
                         "devices: /CPU:0, /CPU:1")  # no mixed precision: float16 on a CPU measures nothing
    assert lines[-1] == "True 2"  # one copy of the variable per simulated device
