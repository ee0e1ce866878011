"""Strategy selection and a real `kk train` on simulated devices (subprocesses: device setup is process-global).

This machine has no GPU, so the multi-GPU branch is exercised on two logical CPU devices
(`tf.config.set_logical_device_configuration`): TensorFlow is told it has two "GPUs" (the physical-device list),
and `MirroredStrategy()` spans the two logical CPUs. Everything else is real: kk's selection, the describe line
the kernels print, and a 2-replica training run through the `kk train` command.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from kaggle_kit.sample_data import write_competition

SIMULATE = textwrap.dedent('''
    import functools, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    _physical = tf.config.list_physical_devices
    fake_gpus = [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(2)]
    tf.config.list_physical_devices = lambda kind=None: fake_gpus if kind == "GPU" else _physical(kind)
    tf.distribute.MirroredStrategy = functools.partial(tf.distribute.MirroredStrategy,
                                                       devices=["/CPU:0", "/CPU:1"])
''')


def _python(code: str, *args: str, cwd=None, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=_env())


def _env():
    import os

    return {**os.environ, "KK_NO_TPU": "1", "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}


def test_two_devices_select_mirrored_strategy_with_two_replicas():
    code = SIMULATE + textwrap.dedent('''
        import json
        import numpy as np
        import keras
        from kaggle_kit.training.strategy import detect_strategy, parse_strategy_line
        assert len(tf.config.list_logical_devices("CPU")) == 2
        info = detect_strategy(mixed_precision=False)
        with info.strategy.scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
            model.compile("sgd", "sparse_categorical_crossentropy")
        x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
        y = np.arange(64) % 3
        hist = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        print(json.dumps({"kind": info.kind, "replicas": info.replicas, "sync": info.strategy.num_replicas_in_sync,
                          "devices": info.devices, "line": info.describe(), "parsed": parse_strategy_line(info.describe()),
                          "mp": info.mixed_precision, "loss": hist.history["loss"][0]}))
    ''')
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["kind"] == "multi_gpu" and got["replicas"] == 2 and got["sync"] == 2
    assert got["line"].startswith("strategy: multi_gpu (MirroredStrategy), 2 replicas"), got["line"]
    assert got["parsed"]["kind"] == "multi_gpu" and got["parsed"]["devices"] == got["devices"]
    assert got["mp"] is False  # turned off explicitly (on a real GPU it defaults to on: test_strategy.py)
    assert got["loss"] == got["loss"]  # trained: a finite number, not NaN


@pytest.mark.slow
def test_kk_train_runs_on_two_replicas(tmp_path):
    store = write_competition(tmp_path / "store", n_train=160, n_test=20)
    data = store / "digit-recognizer" / "data"
    run_dir = tmp_path / "run"
    code = SIMULATE + textwrap.dedent('''
        from kaggle_kit.cli import main
        sys.argv = ["kk", *sys.argv[1:]]
        main()
    ''')
    proc = _python(code, "train", "digit-recognizer", "--data-dir", str(data), "--folds", "2", "--fold", "0",
                   "--epochs", "1", "--batch-size", "32", "--run-dir", str(run_dir), cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "strategy: multi_gpu (MirroredStrategy), 2 replicas" in out, out[-3000:]
    assert (run_dir / "fold0" / "done.json").is_file()
    metrics = json.loads((run_dir / "fold0" / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["n"] == 80
