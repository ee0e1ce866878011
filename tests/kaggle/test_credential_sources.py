"""Every credential source kk accepts works end to end (`kk download` as a subprocess, real official client,
emulator), and the key it uses never shows in the output: KAGGLE_USERNAME/KAGGLE_KEY, ~/.kaggle/kaggle.json,
KAGGLE_CONFIG_DIR, KAGGLE_API_TOKEN (the token itself, or a file holding it), ~/.kaggle/access_token.

The emulator's access tokens are its users' keys; user `keyed` has a real-looking 32-hex-digit key.
"""

from __future__ import annotations

import json

import pytest
from kk_kaggle_helpers import REAL_LOOKING_KEY, SLUG, Env, run_kk

from kaggle_kit.kaggle.client import find_credentials


def _bare(kk_env: Env) -> Env:
    """The test's environment without any credential variable."""
    env = {k: v for k, v in kk_env.vars.items() if k not in ("KAGGLE_USERNAME", "KAGGLE_KEY")}
    return Env(kk_env.home, kk_env.project, env)


def _download_works(env: Env) -> str:
    result = run_kk(env, "download", SLUG)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert (env.project / "datasets" / SLUG / "train.csv").is_file()
    assert REAL_LOOKING_KEY not in out
    return out


def _kaggle_json(folder, user="keyed", key=REAL_LOOKING_KEY):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kaggle.json").write_text(json.dumps({"username": user, "key": key}))
    (folder / "kaggle.json").chmod(0o600)


def test_username_and_key_variables(kk_env):
    env = _bare(kk_env)
    env.vars.update(KAGGLE_USERNAME="keyed", KAGGLE_KEY=REAL_LOOKING_KEY)
    assert find_credentials(env.vars).source == "KAGGLE_USERNAME/KAGGLE_KEY"
    _download_works(env)


def test_kaggle_json_in_home(kk_env):
    env = _bare(kk_env)
    _kaggle_json(env.home / ".kaggle")
    assert find_credentials(env.vars).source == str(env.home / ".kaggle" / "kaggle.json")
    _download_works(env)


def test_kaggle_json_in_config_dir(kk_env, tmp_path):
    env = _bare(kk_env)
    _kaggle_json(tmp_path / "elsewhere")
    env.vars["KAGGLE_CONFIG_DIR"] = str(tmp_path / "elsewhere")
    assert find_credentials(env.vars).username == "keyed"
    _download_works(env)


@pytest.mark.parametrize("as_file", [False, True], ids=["value", "file"])
def test_kaggle_api_token(kk_env, tmp_path, as_file):
    env = _bare(kk_env)
    if as_file:
        token_file = tmp_path / "token.txt"
        token_file.write_text(REAL_LOOKING_KEY + "\n")
        env.vars["KAGGLE_API_TOKEN"] = str(token_file)
    else:
        env.vars["KAGGLE_API_TOKEN"] = REAL_LOOKING_KEY
    creds = find_credentials(env.vars)
    assert creds.source == "KAGGLE_API_TOKEN" and creds.secret == REAL_LOOKING_KEY
    _download_works(env)


def test_kaggle_api_token_wins_over_username_and_key(kk_env):
    env = _bare(kk_env)
    env.vars.update(KAGGLE_API_TOKEN=REAL_LOOKING_KEY, KAGGLE_USERNAME="local", KAGGLE_KEY="wrong-key")
    assert find_credentials(env.vars).source == "KAGGLE_API_TOKEN"
    _download_works(env)  # the wrong key is not used


def test_access_token_file_in_home(kk_env):
    env = _bare(kk_env)
    (env.home / ".kaggle").mkdir()
    (env.home / ".kaggle" / "access_token").write_text(REAL_LOOKING_KEY + "\n")
    assert find_credentials(env.vars).source == str(env.home / ".kaggle" / "access_token")
    _download_works(env)


def test_a_wrong_token_is_refused_without_showing_it(kk_env):
    env = _bare(kk_env)
    bad = "fedcba9876543210fedcba9876543210"
    env.vars["KAGGLE_API_TOKEN"] = bad
    result = run_kk(env, "download", SLUG)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in out
    assert "KAGGLE_API_TOKEN" in out and "error:" in out, out  # names the source that failed
    assert bad not in out
    assert not (env.project / "datasets" / SLUG / "train.csv").exists()
