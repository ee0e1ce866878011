"""Fast, TensorFlow-free checks of the emulator's scoring and the run manifest (also mutation-testing targets).

Scoring is compared with hand-counted cases; the manifest is checked for what it promises: every artifact's sha256
and size, nothing transient, and `verify_manifest` naming each missing or altered file.
"""

from __future__ import annotations

import hashlib
import json
import platform

import pytest

from kaggle_kit.emulator.metrics import METRICS, get_metric, register_metric
from kaggle_kit.training import runs

# --------------------------------------------------------------------------------------------- emulator scoring


def test_categorization_accuracy_by_hand():
    m = get_metric("categorizationaccuracy")
    assert m.score(["1", "2", "3", "4"], ["1", "2", "3", "0"]) == 0.75
    assert m.score(["7"], ["7"]) == 1.0
    assert m.score(["7", "8"], ["8", "7"]) == 0.0
    assert m.score([], []) == 0.0
    assert m.score([" 3", "4 "], ["3", " 4"]) == 1.0  # trimmed, as Kaggle does
    assert m.score(["10", "1"], ["1", "10"]) == 0.0  # strings, not prefixes
    assert m.higher_is_better is True


def test_metric_names_are_normalised_and_unknown_ones_named():
    for name in ("Categorization Accuracy", "categorization-accuracy", "CATEGORIZATION_ACCURACY"):
        assert get_metric(name).name == "categorizationaccuracy"
    with pytest.raises(KeyError, match="unknown metric 'rmse'.*categorizationaccuracy"):
        get_metric("rmse")
    try:
        register_metric("aaa")(lambda t, p: 0.0)
        with pytest.raises(KeyError, match="known: aaa, (.*, )?categorizationaccuracy"):
            get_metric("rmse")
    finally:
        METRICS.pop("aaa", None)


def test_lengths_must_agree():
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        get_metric("categorizationaccuracy").score(["1", "2"], ["1"])


def test_register_metric_adds_a_lower_is_better_metric():
    try:
        @register_metric("Mean Error", higher_is_better=False)
        def mean_error(y_true, y_pred):
            return sum(t != p for t, p in zip(y_true, y_pred)) / len(y_true)

        m = get_metric("mean_error")
        assert m.name == "meanerror" and m.higher_is_better is False
        assert m.score(["1", "2"], ["1", "3"]) == 0.5
        assert isinstance(m.score(["1"], ["1"]), float)
        register_metric("plain")(mean_error)
        assert get_metric("plain").higher_is_better is True  # the default
    finally:
        METRICS.pop("meanerror", None)
        METRICS.pop("plain", None)


# -------------------------------------------------------------------------------------------------- manifest


def _run(tmp_path):
    run = tmp_path / "run"
    (run / "fold0").mkdir(parents=True)
    (run / "run.json").write_text('{"competition": "x"}')
    (run / "fold0" / "model.keras").write_bytes(b"weights" * 10)
    (run / "fold0" / "metrics.json").write_text('{"accuracy": 0.5}')
    (run / ".kk-tmp").write_text("temp")  # hidden: not an artifact
    for name in runs._TRANSIENT:  # in-progress checkpoints: not artifacts
        (run / "fold0" / name).write_text("transient")
    return run


def test_manifest_records_every_artifact_with_sha256_and_size(tmp_path):
    run = _run(tmp_path)
    path = runs.record_artifacts(run)
    assert path == run / runs.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    assert set(manifest["files"]) == {"run.json", "fold0/model.keras", "fold0/metrics.json"}
    for rel, info in manifest["files"].items():
        data = (run / rel).read_bytes()
        assert info == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    from importlib import metadata

    import kaggle_kit

    versions = manifest["versions"]
    assert versions["kaggle_kit"] == kaggle_kit.__version__
    assert versions["python"] == platform.python_version()
    for dist in ("tensorflow", "keras", "numpy", "scikit-learn", "albumentations"):
        assert versions[dist] == metadata.version(dist)
    assert manifest["created"].endswith("+00:00")
    assert runs.verify_manifest(run) == []
    # recording again does not list the manifest itself
    runs.record_artifacts(run)
    assert set(json.loads(path.read_text())["files"]) == {"run.json", "fold0/model.keras", "fold0/metrics.json"}
    (run / "fold0" / "manifest.json").write_text("{}")  # only the top-level manifest is excluded
    assert "fold0/manifest.json" in [p.as_posix() for p in runs.artifact_files(run)]


def test_verify_manifest_names_each_missing_or_changed_file(tmp_path):
    run = _run(tmp_path)
    runs.record_artifacts(run)
    (run / "fold0" / "model.keras").write_bytes(b"tampered" * 10)
    (run / "run.json").unlink()
    problems = runs.verify_manifest(run)
    assert problems == ["fold0/model.keras: sha256 differs from the manifest", "run.json: missing"]
    (run / runs.MANIFEST_FILE).write_text('{"files": {}}')  # a manifest listing nothing finds nothing wrong
    assert runs.verify_manifest(run) == []
    (run / runs.MANIFEST_FILE).unlink()
    assert runs.verify_manifest(run) == [f"{run / runs.MANIFEST_FILE}: missing (the run's record of its files)"]


def test_artifact_files_are_sorted_relative_paths(tmp_path):
    run = _run(tmp_path)
    files = runs.artifact_files(run)
    assert files == sorted(files) and all(not p.is_absolute() for p in files)
    assert [p.as_posix() for p in files] == ["fold0/metrics.json", "fold0/model.keras", "run.json"]
