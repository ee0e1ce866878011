"""Run folders: run ids, config hashes, manifests, listing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kaggle_kit.errors import KKError, TamperedRunError
from kaggle_kit.io import sha256_file
from kaggle_kit.training import runs
from kaggle_kit.training.recipes import load_recipe


def test_run_ids_sort_by_time_and_name_the_recipe(tmp_path):
    t = dt.datetime(2026, 11, 22, 5, 30, 12, tzinfo=dt.timezone.utc)
    assert runs.new_run_id("default", t) == "20261122-053012-default"
    assert runs.new_run_id("my recipe/v2", t) == "20261122-053012-my-recipe-v2"
    a = runs.new_run_dir("digit-recognizer", "default", base=tmp_path)
    a.mkdir(parents=True)
    b = runs.new_run_dir("digit-recognizer", "default", base=tmp_path)
    assert a != b and a.parent == b.parent == tmp_path / "digit-recognizer"


def test_config_hash_tracks_what_is_trained_only():
    base = load_recipe("default")
    assert runs.config_hash(base) == runs.config_hash(load_recipe("default"))
    for device_only in (["tta=3"], ["mixed_precision=true"], ['description="x"']):
        assert runs.config_hash(load_recipe("default", device_only)) == runs.config_hash(base)
    changed = load_recipe("default", ["optimizer.lr=0.01"])
    assert runs.config_hash(changed) != runs.config_hash(base)
    assert runs.config_diff(base, changed) == ["optimizer.lr: 0.002 -> 0.01"]


def test_manifest_hashes_every_artifact_and_detects_changes(tmp_path):
    (tmp_path / "fold0").mkdir()
    (tmp_path / "fold0" / "model.keras").write_bytes(b"weights")
    (tmp_path / "fold0" / "last.keras").write_bytes(b"in progress")  # transient: not an artifact
    (tmp_path / ".x.tmp").write_bytes(b"temp")
    (tmp_path / "metrics.json").write_text("{}")
    runs.record_artifacts(tmp_path)
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert set(m["files"]) == {"fold0/model.keras", "metrics.json"}
    assert m["files"]["fold0/model.keras"]["sha256"] == sha256_file(tmp_path / "fold0" / "model.keras")
    assert {"python", "numpy", "kaggle_kit"} <= set(m["versions"])
    assert runs.verify_manifest(tmp_path) == []
    (tmp_path / "metrics.json").write_text('{"changed": 1}')
    assert runs.verify_manifest(tmp_path) == ["metrics.json: sha256 differs from the manifest"]


def test_a_swapped_model_stays_detectable_after_more_artifacts_are_recorded(tmp_path):
    (tmp_path / "fold0").mkdir()
    (tmp_path / "fold0" / "model.keras").write_bytes(b"weights")
    runs.record_artifacts(tmp_path)
    (tmp_path / "fold0" / "model.keras").write_bytes(b"someone else's weights")
    (tmp_path / "submission.csv").write_text("ImageId,Label\n1,3\n")
    with pytest.raises(TamperedRunError, match="fold0/model.keras: sha256 differs"):
        runs.record_artifacts(tmp_path, rewritten=["submission.csv"])
    assert "submission.csv" not in json.loads((tmp_path / "manifest.json").read_text())["files"]
    assert runs.verify_manifest(tmp_path) == ["fold0/model.keras: sha256 differs from the manifest"]


def test_rewritten_files_are_signed_again_and_new_ones_added(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    runs.record_artifacts(tmp_path)
    (tmp_path / "metrics.json").write_text('{"cv_accuracy": 0.99}')
    (tmp_path / "submission.csv").write_text("ImageId,Label\n1,3\n")
    runs.record_artifacts(tmp_path, rewritten=["metrics.json"])
    assert runs.verify_manifest(tmp_path) == []
    assert set(json.loads((tmp_path / "manifest.json").read_text())["files"]) == {"metrics.json", "submission.csv"}


def test_a_damaged_manifest_is_reported_not_replaced(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    runs.record_artifacts(tmp_path)
    text = (tmp_path / "manifest.json").read_text()
    (tmp_path / "manifest.json").write_text(text[: len(text) // 2])
    with pytest.raises(TamperedRunError, match="manifest.json: damaged"):
        runs.record_artifacts(tmp_path)
    assert (tmp_path / "manifest.json").read_text() == text[: len(text) // 2]
    assert "damaged" in runs.verify_manifest(tmp_path)[0]


def test_list_runs_reads_run_folders(tmp_path):
    d = tmp_path / "digit-recognizer" / "20260101-000000-default"
    (d / "fold0").mkdir(parents=True)
    (d / "fold0" / "done.json").write_text("{}")
    (d / "run.json").write_text(json.dumps({"competition": "digit-recognizer", "recipe": "default", "model": "kk_cnn",
                                            "folds": 2, "created": "2026-01-01T00:00:00+00:00"}))
    (d / "metrics.json").write_text(json.dumps({"cv_accuracy": 0.9876}))
    (tmp_path / "digit-recognizer" / "lr-find" / "20260101").mkdir(parents=True)  # not a run
    found = runs.list_runs("digit-recognizer", base=tmp_path)
    assert [(s.run_id, s.recipe, s.folds_done, s.folds_total, s.cv_accuracy) for s in found] == [
        ("20260101-000000-default", "default", 1, 2, 0.9876)]
    assert runs.list_runs(None, base=tmp_path) == found


def _fake_run(root, config_hash="abc", folds_done=(0,)):
    root.mkdir(parents=True)
    (root / "run.json").write_text(json.dumps({"competition": "c", "config_hash": config_hash, "folds": 2}))
    for name in ("config.toml", "spec.json", "folds.csv"):
        (root / name).write_text(name)
    for f in folds_done:
        d = root / f"fold{f}"
        d.mkdir()
        (d / "model.keras").write_bytes(f"weights {f}".encode())
        (d / "done.json").write_text("{}")
    return root


def test_folds_trained_elsewhere_merge_by_copying(tmp_path):
    here = _fake_run(tmp_path / "here", folds_done=(0,))
    kernel = _fake_run(tmp_path / "kernel", folds_done=(1,))
    (kernel / "fold0").mkdir()
    (kernel / "fold0" / "last.keras").write_bytes(b"unfinished")  # not done: never copied
    (kernel / "fold1" / "state.json").write_text("{}")  # transient leftovers are not copied
    assert runs.copy_folds(kernel, here) == [1]
    assert runs.done_folds(here) == [0, 1]
    assert (here / "fold1" / "model.keras").read_bytes() == b"weights 1"
    assert not (here / "fold1" / "state.json").exists()
    assert (here / "fold0" / "model.keras").read_bytes() == b"weights 0"
    assert runs.copy_folds(kernel, here) == []  # already there
    fresh = runs.copy_folds(kernel, tmp_path / "fresh")
    assert fresh == [1] and (tmp_path / "fresh" / "run.json").is_file()
    other = _fake_run(tmp_path / "other", config_hash="xyz", folds_done=(1,))
    with pytest.raises(KKError, match="different runs"):
        runs.copy_folds(other, here)
