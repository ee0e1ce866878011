"""Emulator internals over real HTTP: persistence across restarts, `kk emulator serve`, upload probes, blob URLs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from emulator_helpers import make_runner
from test_emulator_datasets import dataset_folder

from kaggle_kit.emulator.competitions import CompetitionInfo
from kaggle_kit.emulator.metrics import get_metric, register_metric
from kaggle_kit.emulator.scoring import Solution, SubmissionInvalid, score_submission
from kaggle_kit.emulator.testing import call_rpc, running_emulator

COMP = "digit-recognizer"


def test_state_survives_restart(emu_store, tmp_path):
    state = tmp_path / "state"
    sample = emu_store / COMP / "data" / "sample_submission.csv"
    with running_emulator(emu_store, state=state) as server:
        kaggle = make_runner(server, tmp_path / "home")
        assert kaggle("competitions", "submit", COMP, "-f", sample, "-m", "before restart").returncode == 0
        folder = dataset_folder(tmp_path / "ds", "kept-dataset", {"w.bin": b"weights"})
        assert "being created" in kaggle("datasets", "create", "-p", folder).stdout
        ref = server.backend.competitions.list_submissions("local", COMP)[0].ref
    assert state.is_dir()  # a given state folder is kept

    with running_emulator(emu_store, state=state) as server:  # a new process would see the same: state is on disk
        kaggle = make_runner(server, tmp_path / "home")
        listed = kaggle("competitions", "submissions", COMP)
        assert "before restart" in listed.stdout and str(ref) in listed.stdout
        dl = kaggle("datasets", "download", "local/kept-dataset", "-f", "w.bin", "-p", tmp_path / "dl")
        assert dl.returncode == 0 and (tmp_path / "dl" / "w.bin").read_bytes() == b"weights"
        # Counters carry on: the next submission gets a new ref.
        assert kaggle("competitions", "submit", COMP, "-f", sample, "-m", "after").returncode == 0
        refs = [s.ref for s in server.backend.competitions.list_submissions("local", COMP)]
        assert refs == [ref + 1, ref]


def test_kk_emulator_serve_subprocess(emu_store, tmp_path):
    kk = Path(sys.executable).parent / "kk"
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"alice": "secret-key-1"}))
    users.chmod(0o600)
    state = tmp_path / "state"
    proc = subprocess.Popen([str(kk), "emulator", "serve", "--store", str(emu_store), "--port", "0", "--quiet",
                             "--users-file", str(users), "--state", str(state)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("Kaggle emulator listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[-1]
        # No key in the process's command line, which any local process can read.
        assert b"secret-key-1" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        health = requests.get(f"{url}/_emulator/health", timeout=10).json()
        assert health == {"ok": True, "competitions": [COMP, "limited-digits"]}
        kaggle = make_runner(url, tmp_path / "home", user="alice", key="secret-key-1")
        out = kaggle("competitions", "files", COMP)
        assert out.returncode == 0 and "train.csv" in out.stdout
        assert call_rpc(url, "competitions.CompetitionApiService/ListDataFiles", {"competitionName": COMP},
                        user="local", key="local").status_code == 401  # only the file's users exist
        # The control API wants the token written (owner-only) into the state folder.
        token_file = state / "admin-token"
        assert token_file.stat().st_mode & 0o077 == 0
        assert requests.get(f"{url}/_emulator/calls", timeout=10).status_code == 401
        calls = requests.get(f"{url}/_emulator/calls", headers={"X-KK-Admin-Token": token_file.read_text().strip()},
                             timeout=10)
        assert calls.status_code == 200 and any(c["user"] == "alice" for c in calls.json()["calls"])
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Kaggle emulator stopped" in err
    assert "secret-key-1" not in err


def test_kk_emulator_serve_refuses_keys_on_argv_and_remote_hosts(emu_store, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from kaggle_kit.cli import app

    runner = CliRunner()
    kk = Path(sys.executable).parent / "kk"
    # Subprocesses with a timeout: a server that wrongly starts fails the test instead of serving forever.
    serve = [str(kk), "emulator", "serve", "--store", str(emu_store), "--port", "0", "--quiet"]
    on_argv = subprocess.run([*serve, "--user", "alice:secret"], capture_output=True, text=True, timeout=60)
    assert on_argv.returncode == 1 and "--users-file" in on_argv.stderr and "KK_EMULATOR_USERS" in on_argv.stderr
    remote = subprocess.run([*serve, "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert remote.returncode == 1 and "--allow-remote" in remote.stderr
    bad = tmp_path / "users.txt"
    bad.write_text("../evil:key\n")
    refused = runner.invoke(app, ["emulator", "serve", "--store", str(emu_store), "--users-file", str(bad)])
    assert refused.exit_code == 1 and "'../evil'" in refused.output


def test_users_from_file_and_environment(tmp_path):
    from kaggle_kit.emulator.core import load_users

    lines = tmp_path / "users.txt"
    lines.write_text("# team\nalice:k:with:colons\n\nbob:k2\n")
    assert load_users(lines, environ={}) == {"alice": "k:with:colons", "bob": "k2"}
    assert load_users(None, environ={"KK_EMULATOR_USERS": "carol:k3,dave:k4"}) == {"carol": "k3", "dave": "k4"}
    with pytest.raises(ValueError, match="NAME:KEY"):
        load_users(None, environ={"KK_EMULATOR_USERS": "nokey"})


def test_kk_emulator_serve_rejects_missing_store(tmp_path):
    from typer.testing import CliRunner

    from kaggle_kit.cli import app

    result = CliRunner().invoke(app, ["emulator", "serve", "--store", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "no such folder" in result.output


def test_upload_probe_protocol(emulator):
    """The GCS resumable-upload answers the client relies on (protocol.md 4.3), over plain HTTP."""
    start = call_rpc(emulator, "blobs.BlobApiService/StartBlobUpload",
                     {"type": "DATASET", "name": "p.bin", "contentLength": 10}).json()
    url = start["createUrl"]
    assert url.startswith(emulator.url + "/upload/")  # built from the host the client used

    def probe():
        return requests.put(url, data=b"", headers={"Content-Range": "bytes */10"}, timeout=10)

    first = probe()
    assert first.status_code == 308 and "Range" not in first.headers  # nothing yet; the probe stored nothing
    part = requests.put(url, data=b"01234", headers={"Content-Range": "bytes 0-4/10"}, timeout=10)
    assert part.status_code == 308 and part.headers["Range"] == "bytes=0-4"
    assert probe().headers["Range"] == "bytes=0-4"
    rest = requests.put(url, data=b"56789", headers={"Content-Range": "bytes 5-9/10"}, timeout=10)
    assert rest.status_code == 200 and probe().status_code == 200
    upload = emulator.backend.blobs.get_upload(start["token"])
    assert upload.complete and emulator.backend.blobs.upload_file(upload.token).read_bytes() == b"0123456789"
    unknown = requests.put(emulator.url + "/upload/no-such-token", data=b"", headers={"Content-Range": "bytes */3"},
                           timeout=10)
    assert unknown.status_code == 404


def test_blob_urls_are_signed_and_named_after_the_file(emulator):
    r = call_rpc(emulator, "competitions.CompetitionApiService/DownloadDataFile",
                 {"competitionName": COMP, "fileName": "train.csv"})
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.split("?")[0].endswith("/train.csv")
    blob = requests.get(location, timeout=10)
    assert blob.status_code == 200 and int(blob.headers["Content-Length"]) == len(blob.content)
    assert blob.headers["Last-Modified"] == requests.get(location, timeout=10).headers["Last-Modified"]
    assert requests.get(location.split("?")[0], timeout=10).status_code == 403
    forged = location.split("?")[0].replace("data/train.csv", "solution.csv") + "?" + location.split("?")[1]
    assert requests.get(forged, timeout=10).status_code == 403

    zipped = call_rpc(emulator, "competitions.CompetitionApiService/DownloadDataFiles", {"competitionName": COMP})
    assert zipped.headers["Location"].split("?")[0].endswith(f"/{COMP}.zip")


def test_proxy_mode_hands_out_urls_on_the_proxied_host(emulator):
    """With HTTP_PROXY the client asks for http://localhost/...; URLs handed back must stay on that host."""
    proxies = {"http": emulator.url}
    r = requests.post("http://localhost/api/v1/blobs.BlobApiService/StartBlobUpload", proxies=proxies,
                      json={"type": "DATASET", "name": "x.bin", "contentLength": 1}, auth=("local", "local"),
                      timeout=10)
    assert r.status_code == 200 and r.json()["createUrl"].startswith("http://localhost/upload/")


def test_unknown_rpc_and_bad_json(emulator):
    r = call_rpc(emulator, "kernels.KernelsApiService/NoSuchMethod")
    assert r.status_code == 501 and r.json() == {"code": 501, "message": r.json()["message"]}
    bad = requests.post(f"{emulator.url}/api/v1/competitions.CompetitionApiService/ListDataFiles", data=b"{not json",
                        auth=("local", "local"), timeout=10)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["message"]


def _no_nulls(obj) -> bool:
    if isinstance(obj, dict):
        return all(v is not None and _no_nulls(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_no_nulls(v) for v in obj)
    return True


def test_responses_never_contain_null(emulator):
    for rpc, body in [("competitions.CompetitionApiService/ListCompetitions", {}),
                      ("competitions.CompetitionApiService/ListDataFiles", {"competitionName": COMP}),
                      ("competitions.CompetitionApiService/ListSubmissions", {"competitionName": COMP}),
                      ("datasets.DatasetApiService/ListDatasets", {})]:
        r = call_rpc(emulator, rpc, body)
        assert r.status_code == 200 and _no_nulls(r.json()), rpc


# -- scoring (no HTTP) -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comp(emu_store) -> tuple[CompetitionInfo, Solution]:
    info = CompetitionInfo.load(emu_store / COMP)
    return info, Solution.read(info.solution_file, info.id_column, info.label_column)


def _csv(rows: list[str], header: str = "ImageId,Label") -> bytes:
    return (header + "\n" + "\n".join(rows) + "\n").encode()


@pytest.mark.parametrize("make, message", [
    (lambda ids: _csv([f"{i},1" for i in ids], "ImageId,label"), "required column 'Label' not found"),
    (lambda ids: _csv([f"{i},1,x" for i in ids], "ImageId,Label,Extra"), "unexpected column 'Extra'"),
    (lambda ids: _csv([f"{i},1" for i in ids] + ["999,1"]), "line 42: ImageId '999' is not in the test set"),
    (lambda ids: _csv([f"{ids[0]},1"] + [f"{i},1" for i in ids]), "line 3: ImageId '1' appears twice"),
    (lambda ids: _csv([f"{i}," for i in ids]), "line 2: empty Label"),
    (lambda ids: _csv([f"{i},1" for i in ids[:-1]]), "1 of 40 ImageId values are missing (40)"),
    (lambda ids: _csv(["1"]), "line 2: expected 2 values, found 1"),
    (lambda ids: b"\xff\xfe\x00bad", "not UTF-8"),
    (lambda ids: b"", "the file is empty"),
])
def test_malformed_submissions_are_explained(comp, make, message):
    info, solution = comp
    ids = list(solution.rows)
    with pytest.raises(SubmissionInvalid) as exc:
        score_submission(solution, get_metric(info.metric), make(ids), "sub.csv")
    assert message in str(exc.value)


def test_zipped_submission_and_metric_registry(comp):
    import io
    import zipfile

    info, solution = comp
    truth = _csv([f"{i},{label}" for i, (label, _) in solution.rows.items()])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("sub.csv", truth)
    assert score_submission(solution, get_metric("Categorization Accuracy"), buf.getvalue(), "s.zip") == (1.0, 1.0)

    register_metric("always_half")(lambda t, p: 0.5)
    assert get_metric("always-half").score(["a"], ["b"]) == 0.5
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        get_metric("nope")


def test_store_with_unknown_metric_is_refused(emu_store, tmp_path):
    import shutil

    bad = tmp_path / "store"
    shutil.copytree(emu_store / COMP, bad / COMP)
    meta = json.loads((bad / COMP / "competition.json").read_text())
    (bad / COMP / "competition.json").write_text(json.dumps({**meta, "metric": "rmsle"}))
    with pytest.raises(ValueError, match="unknown metric 'rmsle'"):
        CompetitionInfo.load(bad / COMP)
