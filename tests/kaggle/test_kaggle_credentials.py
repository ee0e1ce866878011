"""Finding credentials the way the official client does, routing to an emulator, and keeping the key secret."""

from __future__ import annotations

import base64
import json
import os

import pytest

from kaggle_kit.errors import KKError
from kaggle_kit.kaggle.credentials import find_credentials
from kaggle_kit.kaggle.routing import emulator_url, routing_env


def _env(tmp_path, **extra) -> dict[str, str]:
    return {"HOME": str(tmp_path), **extra}


def test_no_credentials_says_where_to_put_them(tmp_path):
    with pytest.raises(KKError) as info:
        find_credentials(_env(tmp_path))
    text = str(info.value)
    for needle in ("~/.kaggle/kaggle.json", "chmod 600", "KAGGLE_CONFIG_DIR", "KAGGLE_USERNAME", "KAGGLE_KEY",
                   "make demo"):
        assert needle in text


def test_env_vars_win_over_kaggle_json(tmp_path):
    (tmp_path / ".kaggle").mkdir()
    (tmp_path / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "filer", "key": "filekey"}))
    creds = find_credentials(_env(tmp_path, KAGGLE_USERNAME="envuser", KAGGLE_KEY="envkey"))
    assert (creds.username, creds.secret, creds.source) == ("envuser", "envkey", "KAGGLE_USERNAME/KAGGLE_KEY")


def test_kaggle_json_in_home_and_in_config_dir(tmp_path):
    (tmp_path / ".kaggle").mkdir()
    (tmp_path / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "alice", "key": "k1"}))
    creds = find_credentials(_env(tmp_path))
    assert creds.username == "alice" and creds.source.endswith(".kaggle/kaggle.json")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "kaggle.json").write_text(json.dumps({"username": "bob", "key": "k2"}))
    creds = find_credentials(_env(tmp_path, KAGGLE_CONFIG_DIR=str(other)))
    assert (creds.username, creds.secret) == ("bob", "k2")


def test_broken_kaggle_json_names_the_file(tmp_path):
    (tmp_path / ".kaggle").mkdir()
    (tmp_path / ".kaggle" / "kaggle.json").write_text("{not json")
    with pytest.raises(KKError, match=r"kaggle\.json: not a valid kaggle\.json"):
        find_credentials(_env(tmp_path))


def test_username_without_key_is_reported(tmp_path):
    with pytest.raises(KKError, match="no key"):
        find_credentials(_env(tmp_path, KAGGLE_USERNAME="alice"))


def test_redact_hides_key_and_basic_auth_value(tmp_path):
    creds = find_credentials(_env(tmp_path, KAGGLE_USERNAME="alice", KAGGLE_KEY="s3cr3tkey"))
    basic = base64.b64encode(b"alice:s3cr3tkey").decode()
    out = creds.redact(f"key=s3cr3tkey header=Basic {basic}")
    assert "s3cr3tkey" not in out and basic not in out and out.count("***") == 2
    assert "s3cr3tkey" not in repr(creds)


def test_routing_env_points_the_official_client_at_the_emulator():
    env = routing_env("http://127.0.0.1:9999", {"NO_PROXY": "localhost,example.com", "no_proxy": "localhost"})
    assert env["KAGGLE_API_ENVIRONMENT"] == "LOCALHOST"
    assert env["HTTP_PROXY"] == env["http_proxy"] == "http://127.0.0.1:9999"
    assert env["NO_PROXY"] == "example.com" and env["no_proxy"] == ""
    assert routing_env(None, {"A": "1"}) == {"A": "1"}


def test_emulator_url_is_checked():
    assert emulator_url({"KK_KAGGLE_URL": "http://127.0.0.1:8765/"}) == "http://127.0.0.1:8765"
    assert emulator_url({}) is None
    with pytest.raises(KKError, match="not an emulator address"):
        emulator_url({"KK_KAGGLE_URL": "127.0.0.1:8765"})


def test_no_credentials_from_the_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from kaggle_kit.cli import app

    for name in [n for n in os.environ if n.startswith("KAGGLE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["submissions", "digit-recognizer"])
    assert result.exit_code == 1
    assert "no Kaggle credentials found" in result.output and "kaggle.json" in result.output
    assert "Traceback" not in result.output
