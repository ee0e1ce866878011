"""`kk download` against the emulator with the real official client over real HTTP."""

from __future__ import annotations

import pytest
from kk_kaggle_helpers import LIMITED, REAL_LOOKING_KEY, SLUG, invoke, run_kk

from kaggle_kit.config import read_toml
from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.client import KaggleClient
from kaggle_kit.kaggle.download import MARKER, download_competition
from kaggle_kit.kaggle.transfer import STAGING_PREFIX


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and ".kk-cache" not in p.parts)


def test_download_twice_second_is_a_no_op(kk_env, store):
    first = run_kk(kk_env, "download", SLUG)
    assert first.returncode == 0, first.stderr
    folder = kk_env.project / "datasets" / SLUG
    served = store / SLUG / "data"
    assert _files(folder) == sorted([MARKER, "sample_submission.csv", "test.csv", "train.csv"])
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        assert (folder / name).read_bytes() == (served / name).read_bytes()
    assert "downloaded digit-recognizer: 3 files" in first.stdout
    assert "valid" in first.stdout and "200 rows" in first.stdout and "10 classes" in first.stdout
    project = read_toml(kk_env.project / "kk.toml")
    assert project["competition"] == SLUG and project["owner"] == "local"

    stamps = {p: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}
    second = run_kk(kk_env, "download")  # competition from kk.toml
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout and "nothing downloaded" in second.stdout
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()} == stamps


def test_force_and_a_damaged_local_copy_download_again(kk_env):
    assert invoke("download", SLUG).exit_code == 0
    train = kk_env.project / "datasets" / SLUG / "train.csv"
    good = train.read_bytes()
    train.write_bytes(good[:100])  # truncated behind kk's back: no longer "up to date"
    result = invoke("download", SLUG)
    assert result.exit_code == 0, result.output
    assert "downloaded" in result.output and train.read_bytes() == good
    result = invoke("download", SLUG, "--force")
    assert result.exit_code == 0 and "downloaded" in result.output


def test_custom_path_is_remembered_in_kk_toml(kk_env):
    result = invoke("download", SLUG, "--path", "data")
    assert result.exit_code == 0, result.output
    assert (kk_env.project / "data" / SLUG / "train.csv").is_file()
    assert read_toml(kk_env.project / "kk.toml")["datasets_dir"] == "data"
    assert "up to date" in invoke("download").output  # kk.toml now points at data/


def test_data_dir_names_the_competition_folder_itself(kk_env):
    result = invoke("download", SLUG, "--data-dir", "elsewhere/dr")
    assert result.exit_code == 0, result.output
    assert (kk_env.project / "elsewhere" / "dr" / "train.csv").is_file()
    both = invoke("download", SLUG, "--data-dir", "x", "--path", "y")
    assert both.exit_code == 1 and "either --path" in both.output


def test_unknown_competition_is_named_and_leaves_nothing(kk_env):
    result = invoke("download", "no-such-competition")
    assert result.exit_code == 1
    assert "unknown competition 'no-such-competition'" in result.output
    assert "Traceback" not in result.output
    assert not (kk_env.project / "datasets" / "no-such-competition").exists()


def test_503_then_success_is_retried(kk_env, emulator):
    emulator.backend.faults.add("ListDataFiles", status=503, times=2)
    emulator.backend.faults.add("download", status=503, times=1)
    client = KaggleClient(backoff=0.01)
    result = download_competition(SLUG, kk_env.project / "d", client=client)
    assert result.downloaded and set(result.files) == {"train.csv", "test.csv", "sample_submission.csv"}
    assert emulator.backend.faults.pending() == []  # all three faults were hit, then retried


def test_failed_download_leaves_no_half_written_files(kk_env, emulator):
    emulator.backend.faults.add("download", status=500, times=3)
    folder = kk_env.project / "datasets" / SLUG
    with pytest.raises(KKError, match=r"server error \(500\) after 3 attempts"):
        download_competition(SLUG, folder, client=KaggleClient(retries=2, backoff=0.01))
    assert not folder.exists()
    # An existing copy survives a failed refresh untouched.
    download_competition(SLUG, folder, client=KaggleClient(backoff=0.01))
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    emulator.backend.faults.add("download", status=500, times=3)
    with pytest.raises(KKError):
        download_competition(SLUG, folder, force=True, client=KaggleClient(retries=2, backoff=0.01))
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert not list(folder.glob(f"{STAGING_PREFIX}*"))


def test_rules_not_accepted_points_at_the_rules_page(kk_env, emulator):
    emulator.backend.faults.add("ListDataFiles", status=403, message="You must accept this competition's rules")
    result = invoke("download", SLUG)
    assert result.exit_code == 1
    assert f"https://www.kaggle.com/competitions/{SLUG}/rules" in result.output


def test_wrong_key_gives_a_clear_error_without_the_key(kk_env, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "wrong-key-123")
    result = invoke("download", SLUG)
    assert result.exit_code == 1
    assert "rejected the credentials for local (401" in result.output
    assert "KAGGLE_USERNAME/KAGGLE_KEY" in result.output
    assert "wrong-key-123" not in result.output


def test_the_key_never_appears_in_messages_even_when_the_server_echoes_it(kk_env, emulator, monkeypatch):
    import base64

    basic = base64.b64encode(f"keyed:{REAL_LOOKING_KEY}".encode()).decode()
    monkeypatch.setenv("KAGGLE_USERNAME", "keyed")
    monkeypatch.setenv("KAGGLE_KEY", REAL_LOOKING_KEY)
    emulator.backend.faults.add("ListDataFiles", status=400, message=f"bad request from {REAL_LOOKING_KEY} ({basic})")
    result = invoke("download", SLUG)
    assert result.exit_code == 1
    assert "bad request from ***" in result.output
    assert REAL_LOOKING_KEY not in result.output and basic not in result.output


def test_kk_cache_from_the_server_is_not_installed(kk_env):
    result = invoke("download", LIMITED)
    assert result.exit_code == 0, result.output
    folder = kk_env.project / "datasets" / LIMITED
    assert (folder / "train.csv").is_file()
    assert not (folder / ".kk-cache" / "stale.bin").exists()


def test_kaggle_commands_import_neither_tensorflow_nor_the_official_client_at_startup():
    import subprocess
    import sys

    code = ("import sys, kaggle_kit.cli, kaggle_kit.kaggle.download, kaggle_kit.kaggle.submit; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'kaggle', 'kagglesdk') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_second_download_into_the_same_folder_is_refused_while_the_first_runs(kk_env):
    from kaggle_kit.locks import folder_lock

    folder = kk_env.project / "datasets" / SLUG
    with folder_lock(folder, "download", beside=True):  # stands in for a first `kk download` still running
        second = run_kk(kk_env, "download", SLUG)
        assert second.returncode != 0
        assert "in use by another kk download" in second.stderr and f"pid {__import__('os').getpid()}" in second.stderr
        assert not any(p.name.startswith(STAGING_PREFIX) for p in folder.iterdir())
    again = run_kk(kk_env, "download", SLUG)
    assert again.returncode == 0, again.stderr
