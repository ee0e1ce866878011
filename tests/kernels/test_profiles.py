"""Image profiles: the lock files, the cached overlay (built once, a clear error without the index), the refresh."""

from __future__ import annotations

import json

import pytest

from kaggle_kit.profiles import (
    DONE_MARK,
    ImageProfile,
    ProfileError,
    ensure_overlay,
    load_profile,
    profile_dir,
    profile_names,
)
from kaggle_kit.profiles.refresh import refresh


def test_lock_files_describe_both_images_with_their_source():
    assert {"local", "kaggle-gpu", "kaggle-tpu"} <= set(profile_names())
    gpu, tpu = load_profile("kaggle-gpu"), load_profile("kaggle-tpu")
    for p in (gpu, tpu):
        assert p.python and p.read and "Kaggle/docker-python" in p.source
        assert {"keras", "numpy", "pandas", "scikit-learn", "albumentations"} <= set(p.packages)
        assert all(p.packages[k] == v for k, v in p.overlay.items())  # the overlay is the image's own versions
    assert "tensorflow" in gpu.packages and "tensorflow-cpu" in tpu.packages and "jax" in tpu.packages
    assert (gpu.accelerator, gpu.devices, tpu.accelerator, tpu.devices) == ("gpu", 2, "tpu", 8)
    assert tpu.kernel_env()["XLA_FLAGS"] == "--xla_force_host_platform_device_count=8"
    assert gpu.kernel_env()["KK_SIMULATED_GPUS"] == "2"
    with pytest.raises(ProfileError, match="known: local"):
        load_profile("kaggle-quantum")


def _offline_pip(monkeypatch):
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")


def test_an_unreachable_index_is_a_clear_error_and_leaves_nothing_behind(tmp_path, monkeypatch):
    _offline_pip(monkeypatch)
    profile = ImageProfile("keras-old", overlay={"keras": "3.10.0"})
    lines = []
    with pytest.raises(ProfileError) as err:
        ensure_overlay(profile, root=tmp_path, progress=lines.append)
    assert "could not build image profile keras-old: pip install keras==3.10.0 failed" in err.value.message
    assert "package index" in err.value.hint
    assert lines and "building image profile keras-old (once" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_built_overlay_is_reused_without_pip(tmp_path, monkeypatch):
    _offline_pip(monkeypatch)  # any pip call would fail
    profile = ImageProfile("keras-old", overlay={"keras": "3.10.0"})
    built = profile_dir(profile, tmp_path)
    built.mkdir(parents=True)
    (built / DONE_MARK).write_text(json.dumps({"profile": profile.name}))
    assert ensure_overlay(profile, root=tmp_path) == built
    changed = ImageProfile("keras-old", overlay={"keras": "3.14.0"})
    assert profile_dir(changed, tmp_path) != built  # a changed lock is a new folder, never a stale reuse
    assert ensure_overlay(ImageProfile("local"), root=tmp_path) is None


def _upstream(root, tf_dist="tensorflow-cpu"):
    (root / "tpu").mkdir(parents=True)
    (root / "Dockerfile.tmpl").write_text(
        "FROM us-docker.pkg.dev/colab-images/public/runtime:release-colab-20270101_RC00\n"
        "ARG PACKAGE_PATH=/usr/local/lib/python3.13/dist-packages\n")
    (root / "tpu" / "config.txt").write_text("BASE_IMAGE=python:3.13\nTENSORFLOW_VERSION=2.99.0\n")
    (root / "tpu" / "requirements.in").write_text(f"{tf_dist}==${{TENSORFLOW_VERSION}}\njax[tpu]\nkeras>3\n")
    return root


def test_refresh_rewrites_the_locks_from_a_docker_python_checkout(tmp_path):
    from kaggle_kit.profiles import HERE

    locks = tmp_path / "locks"
    locks.mkdir()
    for name in ("kaggle-gpu.toml", "kaggle-tpu.toml"):
        (locks / name).write_text((HERE / name).read_text())
    todo = refresh(_upstream(tmp_path / "up"), locks, today="2027-01-02")
    import tomllib

    gpu = tomllib.loads((locks / "kaggle-gpu.toml").read_text())
    tpu = tomllib.loads((locks / "kaggle-tpu.toml").read_text())
    assert gpu["python"] == tpu["python"] == "3.13" and gpu["read"] == tpu["read"] == "2027-01-02"
    assert "release-colab-20270101_RC00" in gpu["source"] and tpu["packages"]["tensorflow-cpu"] == "2.99.0"
    assert "# Refresh:" in (locks / "kaggle-tpu.toml").read_text()  # comments survive
    assert any("Colab base release-colab-20270101_RC00" in t for t in todo)

    again = tmp_path / "again"
    again.mkdir()
    for name in ("kaggle-gpu.toml", "kaggle-tpu.toml"):
        (again / name).write_text((HERE / name).read_text())
    todo = refresh(_upstream(tmp_path / "up2", tf_dist="tensorflow-tpu"), again, today="2027-01-02")
    assert any("now installs tensorflow-tpu==2.99.0" in t for t in todo)
