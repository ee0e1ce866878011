"""Kernels under Kaggle's images: weights trained here (Keras 3.15) predict under the older Keras of Kaggle's
image, run through `kk run-kernel --image` with the Keras overlay built once into the user cache."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from kernel_helpers import KEY
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.competition import Competition, detect_spec
from kaggle_kit.kernels.local import run_rendered_kernel
from kaggle_kit.profiles import ImageProfile, cache_root
from kaggle_kit.submission import validate_submission

pytestmark = pytest.mark.slow

# Read before any fixture moves HOME: the profile cache is the real user's, shared by every run of the suite.
PROFILE_CACHE = cache_root()
OLD_KERAS = ("3.10.0", "3.14.0")


@pytest.fixture(scope="module")
def inference_kernel(tmp_path_factory, kernel_store):
    """A run trained here with this environment's Keras, staged as weights, and its rendered inference kernel."""
    from kaggle_kit.kernels.weights import stage_weights
    from kaggle_kit.training.recipes import load_recipe
    from kaggle_kit.training.trainer import train_run

    root = tmp_path_factory.mktemp("images")
    data = Path(shutil.copytree(kernel_store / "digit-recognizer" / "data", root / "datasets" / "digit-recognizer"))
    (root / "kk.toml").write_text('competition = "digit-recognizer"\nowner = "alice"\n')
    # seed001: squeeze-excite, swish and symmetric CE, the custom parts a saved model's config carries.
    recipe = load_recipe("seed001", ["folds=2", "epochs=1", "batch_size=32", "limit=120", "model.params.width=0.125",
                                     "loss.label_smoothing=0.1"])
    run = train_run(Competition.open(data, slug="digit-recognizer"), recipe, root / "runs" / "r1")
    stage_weights(run.run_dir, "alice", "digit-recognizer-kk-weights", root=root / "datasets")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("KAGGLE_USERNAME", "alice")
        mp.setenv("KAGGLE_KEY", KEY)
        mp.setenv("KK_KAGGLE_URL", "http://127.0.0.1:9")  # rendering never talks to Kaggle
        result = CliRunner().invoke(app, ["push-kernel", "inference", "--weights", "alice/digit-recognizer-kk-weights",
                                          "--no-internet", "--render-only", "--json"])
    assert result.exit_code == 0, result.output
    build = Path(json.loads(result.stdout.strip().splitlines()[-1])["build_dir"])
    return root, build, run.run_dir


@pytest.mark.parametrize("version", OLD_KERAS)
def test_weights_trained_here_predict_under_kagglesolder_keras(inference_kernel, version, tmp_path, monkeypatch):
    root, build, run_dir = inference_kernel
    monkeypatch.setenv("KK_PROFILE_CACHE", str(PROFILE_CACHE))
    profile = ImageProfile(f"keras-{version}", overlay={"keras": version})
    out = tmp_path / "out"
    result = run_rendered_kernel(build, datasets_root=root / "datasets", out=out, image=profile, timeout=300,
                                 weak_isolation=True)
    log = "".join(e["data"] for e in result.log)
    assert result.status == "COMPLETE", result.log_tail(40)
    runtime = json.loads(next(line for line in log.splitlines() if line.startswith("kk runtime: "))[12:])
    assert runtime["keras"] == version  # the old Keras really ran, not this environment's
    assert f"note: weights trained with keras {json.loads((run_dir / 'manifest.json').read_text())['versions']['keras']}" \
        in log and f"predicting with keras {version}" in log
    check = validate_submission(out / "submission.csv", detect_spec(root / "datasets" / "digit-recognizer"))
    assert check.rows == 60


@pytest.fixture
def gpu_kernel(tmp_path, kernel_store, monkeypatch):
    """A rendered `--gpu` training kernel (one tiny fold) in a project folder; returns a function rendering more."""
    shutil.copytree(kernel_store / "digit-recognizer" / "data", tmp_path / "datasets" / "digit-recognizer")
    (tmp_path / "kk.toml").write_text('competition = "digit-recognizer"\nowner = "alice"\n')
    monkeypatch.setenv("KK_PROFILE_CACHE", str(PROFILE_CACHE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    monkeypatch.setenv("KK_KAGGLE_URL", "http://127.0.0.1:9")

    def render(*extra: str) -> Path:
        result = CliRunner().invoke(app, ["push-kernel", "train", "--gpu", "--limit", "120", "--epochs", "1",
                                          "--folds", "2", "--fold", "0", "--batch-size", "32", "--render-only",
                                          "--json", *extra])
        assert result.exit_code == 0, result.output
        return Path(json.loads(result.stdout.strip().splitlines()[-1])["build_dir"])

    return render


def _log(folder: Path) -> str:
    return "".join(e["data"] for e in json.loads((folder / "output" / "kernel.log").read_text()))


def test_a_gpu_kernel_without_a_gpu_stops_at_once_and_says_why(gpu_kernel):
    from kaggle_kit.kernels.push import accelerator_warning

    folder = gpu_kernel()
    result = CliRunner().invoke(app, ["run-kernel", str(folder), "--image", "local", "--quiet", "--json"])
    assert result.exit_code == 1
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["status"] == "ERROR" and "asked for a GPU (NvidiaTeslaT4) but found CPU" in out["failure_message"]
    assert "--allow-cpu-fallback" in out["failure_message"]
    log = _log(folder)
    assert "fold 0" not in log.lower().replace("folds", "")  # stopped before any fold started
    assert not list((folder / "output").rglob("fold0"))
    warning = accelerator_warning("gpu", json.loads((folder / "output" / "kernel.log").read_text()))
    assert "stopped at once" in warning and "no NVIDIA device" in warning


def test_allow_cpu_fallback_is_recorded_and_runs_on_the_cpu(gpu_kernel):
    folder = gpu_kernel("--allow-cpu-fallback")
    scope: dict = {}
    exec(next(folder.glob("*.py")).read_text().split("def import_kaggle_kit")[0], scope)
    assert scope["SETTINGS"]["requested"]["allow_cpu_fallback"] is True
    result = CliRunner().invoke(app, ["run-kernel", str(folder), "--image", "local", "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    assert "Running on the CPU (--allow-cpu-fallback)" in _log(folder)


def test_kaggle_gpu_image_simulates_two_gpus_under_mirrored_strategy(gpu_kernel):
    """No --image: a GPU kernel runs under Kaggle's GPU image (the default), on 2 simulated GPUs."""
    from kaggle_kit.profiles import load_profile

    folder = gpu_kernel()
    result = CliRunner().invoke(app, ["run-kernel", str(folder), "--quiet", "--json"])
    log = _log(folder)
    assert result.exit_code == 0, log[-3000:]
    assert ("strategy: multi_gpu (MirroredStrategy; simulated on 2 CPU devices), 2 replicas, devices: /CPU:0, /CPU:1"
            in log)
    runtime = json.loads(next(line for line in log.splitlines() if line.startswith("kk runtime: "))[12:])
    assert runtime["keras"] == load_profile("kaggle-gpu").packages["keras"] and runtime["keras_backend"] == "tensorflow"
    assert list((folder / "output").rglob("fold0/done.json"))


def test_tpu_kernel_runs_keras_on_jax_over_8_simulated_devices(inference_kernel, tmp_path, monkeypatch):
    root, build, _ = inference_kernel
    monkeypatch.setenv("KK_PROFILE_CACHE", str(PROFILE_CACHE))
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    monkeypatch.setenv("KK_KAGGLE_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(app, ["push-kernel", "inference", "--tpu", "--weights",
                                      "alice/digit-recognizer-kk-weights", "--slug", "tpu-kk-inference",
                                      "--render-only", "--json"])
    assert result.exit_code == 0, result.output
    folder = Path(json.loads(result.stdout.strip().splitlines()[-1])["build_dir"])

    local = run_rendered_kernel(folder, datasets_root=root / "datasets", out=tmp_path / "local", timeout=300,
                                weak_isolation=True, image="local")
    assert local.status == "ERROR" and "asked for a TPU (TpuV5E8) but found CPU" in local.failure_message
    assert "JAX is not installed" in local.failure_message

    sim = run_rendered_kernel(folder, datasets_root=root / "datasets", out=tmp_path / "tpu", timeout=400,
                              image="kaggle-tpu", weak_isolation=True)
    log = "".join(e["data"] for e in sim.log)
    assert sim.status == "COMPLETE", sim.log_tail(40)
    assert ("strategy: tpu (DataParallel on jax; simulated on 8 CPU devices), 8 replicas, devices: /TPU:0, "
            "/TPU:1, /TPU:2, /TPU:3, /TPU:4, /TPU:5, /TPU:6, /TPU:7 | mixed precision: mixed_bfloat16") in log
    runtime = json.loads(next(line for line in log.splitlines() if line.startswith("kk runtime: "))[12:])
    assert runtime["keras_backend"] == "jax" and len(runtime["jax_devices"]) == 8
    check = validate_submission(tmp_path / "tpu" / "submission.csv", detect_spec(root / "datasets" / "digit-recognizer"))
    assert check.rows == 60


def test_weights_trained_under_kaggles_older_keras_predict_here(tmp_path, kernel_store):
    """The other direction: a run trained on Kaggle's image (Keras 3.10 here) predicts with this Keras."""
    import os
    import subprocess
    import sys

    import keras

    from kaggle_kit.profiles import ensure_overlay
    from kaggle_kit.training.predict import predict_run

    overlay = ensure_overlay(ImageProfile("keras-3.10.0", overlay={"keras": "3.10.0"}), root=PROFILE_CACHE)
    data = kernel_store / "digit-recognizer" / "data"
    run_dir = tmp_path / "run"
    script = (
        "import keras\n"
        "assert keras.__version__ == '3.10.0', keras.__version__\n"
        "from kaggle_kit.competition import Competition\n"
        "from kaggle_kit.training.recipes import load_recipe\n"
        "from kaggle_kit.training.trainer import train_run\n"
        f"comp = Competition.open({str(data)!r}, slug='digit-recognizer')\n"
        "recipe = load_recipe('seed001', ['folds=2', 'epochs=1', 'batch_size=32', 'limit=120',\n"
        "                                 'model.params.width=0.125'])\n"
        f"train_run(comp, recipe, {str(run_dir)!r}, folds_to_train=[0])\n")
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(overlay), str(repo)]), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run_dir / "manifest.json").read_text())["versions"]["keras"] == "3.10.0"
    lines: list[str] = []
    result = predict_run(run_dir, Competition.open(data, slug="digit-recognizer"), tta=0, out=tmp_path / "sub.csv",
                         log=lines.append)
    assert result.folds == [0] and result.probs.shape == (60, 10)
    assert any(f"weights trained with keras 3.10.0; predicting with keras {keras.__version__}" in x for x in lines)


def test_tpu_training_kernel_trains_se_swish_symmetric_ce_on_jax(gpu_kernel, tmp_path):
    """A --tpu training kernel under --image kaggle-tpu: Keras on JAX, DataParallel over 8 devices, bfloat16,
    with the custom parts (squeeze-excite, swish, symmetric CE with label smoothing) on the JAX backend, and the
    graph augmentation with the flips and erasing the invariance probe can switch on (they run in tf.data, on
    TensorFlow tensors, whatever Keras's backend: written with keras.ops they failed here, 'flip requires ndarray')."""
    result = CliRunner().invoke(app, ["push-kernel", "train", "--tpu", "--recipe", "seed001", "--limit", "90",
                                      "--epochs", "1", "--folds", "2", "--fold", "0", "--batch-size", "2",
                                      "--set", "model.params.width=0.125", "--set", "loss.label_smoothing=0.1",
                                      "--set", "augment.backend=graph", "--set", "augment.hflip=0.5",
                                      "--set", "augment.erase=0.5", "--render-only", "--json"])
    assert result.exit_code == 0, result.output
    folder = Path(json.loads(result.stdout.strip().splitlines()[-1])["build_dir"])
    result = CliRunner().invoke(app, ["run-kernel", str(folder), "--image", "kaggle-tpu", "--quiet", "--json"])
    log = _log(folder)
    assert result.exit_code == 0, log[-3000:]
    assert "strategy: tpu (DataParallel on jax; simulated on 8 CPU devices), 8 replicas" in log
    assert "| mixed precision: mixed_bfloat16" in log
    config = tomllib.loads(next((folder / "output").rglob("config.toml")).read_text())
    assert config["augment"]["backend"] == "graph" and config["augment"]["hflip"] == 0.5
    done = json.loads(next((folder / "output").rglob("fold0/done.json")).read_text())
    metrics = json.loads(next((folder / "output").rglob("fold0/metrics.json")).read_text())
    assert done and 0.0 <= metrics["accuracy"] <= 1.0
    history = next((folder / "output").rglob("fold0/history.csv")).read_text()
    assert "nan" not in history.lower()
    # TPU-shaped batches: a global batch of 2 x 8 replicas, 45 training rows -> 2 static steps (the remainder
    # dropped) run as one execution; the 45 validation rows are padded to 48 with weight 0, so the epoch's
    # val_accuracy is over the 45 real rows, exactly what the fold's out-of-fold predictions score.
    assert metrics["batching"] == {"replicas": 8, "mesh_devices": 8, "global_batch": 16, "steps_per_epoch": 2,
                                   "drop_remainder": True, "steps_per_execution": 2}
    rows = list(csv.DictReader(io.StringIO(history)))
    assert metrics["n"] == 45 and float(rows[-1]["val_accuracy"]) == pytest.approx(metrics["accuracy"], abs=1e-6)
    # The same kernel in this environment (no TPU, no JAX), no fallback flag: it stops at once and says why.
    local = CliRunner().invoke(app, ["run-kernel", str(folder), "--image", "local", "--out", str(tmp_path / "local"),
                                     "--quiet", "--json"])
    assert local.exit_code == 1, local.output
    failure = json.loads(local.stdout.strip().splitlines()[-1])["failure_message"]
    assert "asked for a TPU (TpuV5E8) but found CPU" in failure and "--allow-cpu-fallback" in failure
    assert not list((tmp_path / "local").rglob("fold0"))


def test_a_budgeted_gpu_kernel_plans_its_schedule_under_kaggles_keras(gpu_kernel):
    """`budget_minutes` in a --gpu training kernel under --image kaggle-gpu (Kaggle's older Keras, 2 simulated
    GPUs). With 2 replicas an epoch is one step, so the first plan comes at an epoch's end, not a few steps in: it
    must still set the schedule's run to the plan (it once kept the recipe's 50 epochs as the cosine's length)."""
    folder = gpu_kernel("--epochs", "50", "--budget", "0.5")
    result = CliRunner().invoke(app, ["run-kernel", str(folder), "--image", "kaggle-gpu", "--quiet", "--json"])
    log = _log(folder)
    assert result.exit_code == 0, log[-3000:]
    budget = json.loads(next((folder / "output").rglob("fold0/metrics.json")).read_text())["budget"]
    assert budget["actual_s"] <= 1.1 * 30, budget
    assert budget["run_length"]["total"] == budget["planned_epochs"] < 50, budget
    assert budget["run_length"]["epochs"] == budget["final_planned_epochs"], budget


@pytest.mark.parametrize("accelerator,image", [("--gpu", "kaggle-gpu"), ("--tpu", "kaggle-tpu")])
def test_weight_averaging_trains_under_kaggles_images(gpu_kernel, accelerator, image):
    """`optimizer.ema` in a training kernel under Kaggle's GPU image (older Keras, TensorFlow, 2 simulated GPUs)
    and its TPU image (Keras on JAX, 8 simulated devices): the average is swapped in for validation and the
    checkpoint: the kept model (read back here) holds the optimizer's average, and its out-of-fold accuracy is the
    validation row that chose it."""
    result = CliRunner().invoke(app, ["push-kernel", "train", accelerator, "--limit", "120", "--epochs", "1",
                                      "--folds", "2", "--fold", "0", "--batch-size", "2", "--set", 'probe="off"',
                                      "--set", "optimizer.ema=0.6", "--render-only", "--json"])
    assert result.exit_code == 0, result.output
    folder = Path(json.loads(result.stdout.strip().splitlines()[-1])["build_dir"])
    result = CliRunner().invoke(app, ["run-kernel", str(folder), "--image", image, "--quiet", "--json"])
    log = _log(folder)
    assert result.exit_code == 0, log[-3000:]
    config = tomllib.loads(next((folder / "output").rglob("config.toml")).read_text())
    assert config["optimizer"]["ema"] == 0.6
    # After its one epoch (several steps: after one, the average is the weights) Keras leaves the average in the
    # optimizer's slots; without the swap the kept model would hold the trained weights instead.
    import keras

    kept = keras.models.load_model(next((folder / "output").rglob("fold0/model.keras")))
    opt = getattr(kept.optimizer, "inner_optimizer", kept.optimizer)  # under a mixed_float16 loss scaler
    for w, avg in zip(kept.trainable_variables, opt._model_variables_moving_average, strict=True):
        np.testing.assert_allclose(np.array(w, dtype="float32"), np.array(avg, dtype="float32"), atol=1e-6)
    metrics = json.loads(next((folder / "output").rglob("fold0/metrics.json")).read_text())
    (row,) = list(csv.DictReader(io.StringIO(next((folder / "output").rglob("fold0/history.csv")).read_text())))
    assert float(row["val_accuracy"]) == pytest.approx(metrics["accuracy"], abs=1e-6)
