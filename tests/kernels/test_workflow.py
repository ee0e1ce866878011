"""The whole loop against the emulator, by kk commands: a training kernel (real TensorFlow, 200 rows, 2 folds x 1
epoch) -> run folder -> upload-weights -> offline inference kernel -> code submission scored; plus parallel
kernels gathered into one run, a failing kernel, a local run of the inference kernel, and a scan proving the key
never left."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from kernel_helpers import KEY
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.training import runs

pytestmark = pytest.mark.slow


def kk(*args: str, code: int = 0):
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == code, result.output
    return result


def last_json(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(project):
    """One training kernel, two folds, its run folder brought home."""
    result = kk("push-kernel", "train", "--gpu", "--allow-cpu-fallback", "--limit", "200", "--epochs", "1",
                "--folds", "2", "--batch-size", "32", "--wait", "--json", "--poll-interval", "0.5")
    return result, last_json(result)


def test_training_kernel_outputs_land_in_the_run_folder(trained, project):
    result, out = trained
    assert out["ref"] == "local/digit-recognizer-kk-train" and out["status"] == "COMPLETE"
    assert out["version"] == 1 and Path(out["build_dir"]).name == "digit-recognizer-kk-train"
    run_dir = Path(out["run_dir"])
    assert run_dir.parent == project / "runs" / "digit-recognizer"
    assert runs.done_folds(run_dir) == [0, 1]
    for f in (0, 1):
        assert (run_dir / f"fold{f}" / "model.keras").stat().st_size > 1000
        assert (run_dir / f"fold{f}" / "history.csv").is_file()
    assert (run_dir / "plots" / "curves.png").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["folds_done"] == [0, 1] and metrics["rows"] == 200
    assert runs.verify_manifest(run_dir) == []
    # The emulator's sessions run under Kaggle's GPU image profile (the default): Kaggle's Keras, and the T4 x2
    # simulated as 2 devices, so the GPU kernel trained data-parallel on 2 replicas and nothing fell back.
    log = (Path(out["output_dir"]) / "digit-recognizer-kk-train.log").read_text()
    assert "strategy: multi_gpu (MirroredStrategy; simulated on 2 CPU devices), 2 replicas" in log
    assert "image profile kaggle-gpu" in log
    assert out["warning"].startswith("asked for a GPU (NvidiaTeslaT4); this session simulated one")  # not a real GPU


def test_parallel_kernels_are_gathered_into_one_run(project):
    """Three folds over two kernels (the scikit-learn kNN recipe: no TensorFlow, so it is quick)."""
    out = last_json(kk("push-kernel", "train", "--recipe", "knn", "--limit", "120", "--folds", "3", "--parallel",
                       "2", "--slug", "knn-kernel", "--wait", "--json", "--poll-interval", "0.5"))
    assert sorted(k["ref"] for k in out["kernels"]) == ["local/knn-kernel-p0", "local/knn-kernel-p1"]
    assert all(k["status"] == "COMPLETE" for k in out["kernels"])
    run_dir = Path(out["run_dir"])
    assert runs.done_folds(run_dir) == [0, 1, 2]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["folds_done"] == [0, 1, 2] and metrics["complete"] is True  # rebuilt here from both parts
    assert runs.verify_manifest(run_dir) == []
    assert not [k for k in out["kernels"] if k.get("warning")]  # asked for a CPU, got one


@pytest.fixture(scope="module")
def weights(trained, project):
    run_dir = Path(trained[1]["run_dir"])
    (run_dir / "kaggle.json").write_text(json.dumps({"username": "local", "key": KEY}))  # must never be uploaded
    (run_dir / "fold0" / "notes.txt").write_text("scratch")
    result = kk("upload-weights", str(run_dir), "-m", "first weights", "--json")
    return last_json(result)


def test_upload_weights_publishes_only_the_listed_artifacts(weights, emulator):
    assert weights["ref"] == "local/digit-recognizer-kk-weights" and weights["created"] is True
    assert weights["status"] == "ready" and weights["version"] == 1
    expected = {"run.json", "config.toml", "spec.json", "manifest.json", "fold0-model.keras", "fold0-done.json",
                "fold0-metrics.json", "fold1-model.keras", "fold1-done.json", "fold1-metrics.json"}
    ds = emulator.backend.datasets.get("local", "local", "digit-recognizer-kk-weights")
    assert {f.name for f in ds.current.files} == expected
    staged = Path(weights["folder"])
    assert {p.name for p in staged.iterdir()} == expected | {"dataset-metadata.json"}
    manifest = json.loads((staged / "manifest.json").read_text())
    assert manifest["files"]["fold1-model.keras"]["path"] == "fold1/model.keras"


def test_a_new_upload_is_a_new_version(weights, trained):
    again = last_json(kk("upload-weights", trained[1]["run_dir"], "-m", "again", "--json"))
    assert again["created"] is False and again["version"] == 2


def test_failing_kernel_exits_non_zero_with_the_log_tail(weights, trained, project):
    from kaggle_kit.kaggle.client import KaggleClient
    from kaggle_kit.kernels.weights import stage_weights, upload_weights

    staged = stage_weights(trained[1]["run_dir"], "local", "tampered-kk-weights")
    model = staged.folder / "fold0-model.keras"
    model.write_bytes(model.read_bytes()[:-10] + b"0123456789")  # corrupted after its sha256 was recorded
    upload_weights(KaggleClient(), staged, "tampered", poll=0.2)
    result = kk("push-kernel", "inference", "--weights", "local/tampered-kk-weights", "--slug",
                "tampered-kk-inference", "--wait", "--poll-interval", "0.5", code=1)
    assert "ERROR" in result.output
    assert "fold0-model.keras: sha256 differs from the manifest" in result.output  # from the log tail
    assert "log (last lines)" in result.output


@pytest.fixture(scope="module")
def inference(weights, project):
    result = kk("push-kernel", "inference", "digit-recognizer", "--weights", weights["ref"], "--no-internet",
                "--wait", "--json", "--poll-interval", "0.5")
    return last_json(result)


def _public_accuracy(solution: Path, submission: Path) -> float:
    truth = {r[0]: (r[1], r[2]) for r in list(csv.reader(open(solution)))[1:]}
    sub = {r[0]: r[1] for r in list(csv.reader(open(submission)))[1:]}
    public = [i for i, (_, usage) in truth.items() if usage == "Public"]
    return sum(sub[i] == truth[i][0] for i in public) / len(public)


def test_offline_inference_kernel_submission_is_scored(inference, project, kernel_store, emulator):
    from kaggle_kit.competition import detect_spec
    from kaggle_kit.submission import validate_submission

    assert inference["status"] == "COMPLETE" and inference["ref"] == "local/digit-recognizer-kk-inference"
    sub_file = Path(inference["submission"])
    spec = detect_spec(project / "datasets" / "digit-recognizer")
    assert validate_submission(sub_file, spec).rows == 60
    meta = json.loads((Path(inference["build_dir"]) / "kernel-metadata.json").read_text())
    assert meta["enable_internet"] is False and meta["dataset_sources"] == ["local/digit-recognizer-kk-weights"]
    scored = last_json(kk("submit", "--kernel", inference["ref"], "--kernel-version", str(inference["version"]),
                          "-m", "kernel v1", "--wait", "--json"))
    expected = _public_accuracy(kernel_store / "digit-recognizer" / "solution.csv", sub_file)
    assert scored["status"] == "COMPLETE" and float(scored["public_score"]) == pytest.approx(expected, abs=1e-5)
    sub = emulator.backend.competitions.submission("local", scored["ref"])
    assert sub.description == "kernel v1"
    # the run ledger: the kernel's kk-result.json names the run its weights came from
    run_dir = Path(scored["run"])
    assert run_dir.parent == project / "runs" / "digit-recognizer" and scored["rank"] == 1
    ledger = json.loads((run_dir / "ledger.json").read_text())["submissions"]
    assert [(e["ref"], e["source"], e["kernel"], e["public_score"]) for e in ledger] == \
        [(scored["ref"], "kernel", inference["ref"], scored["public_score"])]


def test_run_kernel_runs_the_same_inference_kernel_offline_here(inference, project):
    build = Path(inference["build_dir"])
    result = kk("run-kernel", str(build), "--out", str(project / "local-run"), "--quiet", "--json")
    out = last_json(result)
    assert out["status"] == "COMPLETE" and out["isolation"] in ("netns", "guard")
    assert (project / "local-run" / "submission.csv").read_bytes() == Path(inference["submission"]).read_bytes()


def _texts(path: Path) -> list[tuple[str, bytes]]:
    """A file's bytes, plus the members of any zip and of any embedded kernel bundle inside it."""
    data = path.read_bytes()
    out = [(str(path), data)]
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                out += [(f"{path}!{n}", zf.read(n)) for n in zf.namelist()]
        except zipfile.BadZipFile:
            assert data.endswith(b"0123456789"), path  # only the weights the failing-kernel test broke on purpose
    m = re.search(rb'KK_BUNDLE = """\n(.*?)\n"""', data, re.S)
    if m:
        bundle = base64.b64decode(b"".join(m.group(1).split()))
        with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
            out += [(f"{path}!bundle!{n}", zf.read(n)) for n in zf.namelist()]
    return out


def test_the_key_never_reached_the_emulator(inference, emulator, project):
    scanned, bundles = 0, 0
    for root in (emulator.backend.state_dir, project / "kernels" / "build", project / "datasets" / "local"):
        for path in root.rglob("*"):
            if path.is_file():
                for name, data in _texts(path):
                    scanned += 1
                    bundles += "!bundle!" in name
                    assert KEY.encode() not in data, name
    assert scanned > 50 and bundles > 20  # kernels' embedded code was opened and scanned too
    requests_seen = [c.method for c in emulator.calls]
    assert any("SaveKernel" in m for m in requests_seen) and any("CreateDataset" in m for m in requests_seen)


def test_kernel_status_and_output_commands(trained, project):
    ref = trained[1]["ref"]
    status = last_json(kk("kernel-status", ref, "--json"))
    assert status == {"ref": ref, "status": "COMPLETE", "failure_message": None}
    out = last_json(kk("kernel-output", f"{ref}/1", "--path", str(project / "fetched"), "--no-install", "--json"))
    assert out["status"] == "COMPLETE" and "digit-recognizer-kk-train.log" in out["files"]
    assert any(f.endswith("fold1/model.keras") for f in out["files"]) and "run_dir" not in out
    log = json.loads((project / "fetched" / "digit-recognizer-kk-train.log").read_text())
    assert any(e["data"].startswith("strategy: multi_gpu (MirroredStrategy; simulated on 2 CPU devices)") for e in log)
    assert "COMPLETE" in kk("kernel-status", ref).output


def test_inference_weights_follow_the_run(weights, trained, project):
    run_dir = Path(trained[1]["run_dir"])
    for args in (["--run", str(run_dir)], []):  # the newest weights staged for that run / for the competition
        rendered = last_json(kk("push-kernel", "inference", *args, "--render-only", "--json"))
        meta = json.loads((Path(rendered["build_dir"]) / "kernel-metadata.json").read_text())
        [source] = meta["dataset_sources"]
        staged = json.loads((project / "datasets" / source / "manifest.json").read_text())
        assert staged["run_id"] == run_dir.name and staged["competition"] == "digit-recognizer"
    kk("push-kernel", "inference", "--run", str(project / "runs"), "--render-only", code=1)  # not a run folder


def test_a_kernel_continues_a_local_run(project):
    """Fold 0 trained here, folds 1-2 by a kernel (`--run`): one run folder with all three."""
    from kaggle_kit.competition import Competition
    from kaggle_kit.training.recipes import load_recipe
    from kaggle_kit.training.trainer import train_run

    comp = Competition.open(project / "datasets" / "digit-recognizer", slug="digit-recognizer")
    recipe = load_recipe("knn", ["limit=120", "folds=3"])
    run_dir = project / "runs" / "digit-recognizer" / "local-knn-run"
    train_run(comp, recipe, run_dir, folds_to_train=[0])
    out = last_json(kk("push-kernel", "train", "--run", str(run_dir), "--slug", "knn-continue", "--wait", "--json",
                       "--poll-interval", "0.5"))
    assert out["status"] == "COMPLETE" and Path(out["run_dir"]) == run_dir
    code = (Path(out["build_dir"]) / "knn-continue.py").read_text()
    assert '"folds": [\n    1,\n    2\n  ]' in code and '"run_id": "local-knn-run"' in code
    assert runs.done_folds(run_dir) == [0, 1, 2]
    assert json.loads((run_dir / "metrics.json").read_text())["complete"] is True
    assert runs.verify_manifest(run_dir) == []
    kk("push-kernel", "train", "--run", str(run_dir), "--render-only", code=1)  # nothing left to train
