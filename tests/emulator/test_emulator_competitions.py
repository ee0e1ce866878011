"""The official `kaggle` CLI against the emulator: competitions list/files/download/submit/submissions."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

from emulator_helpers import make_runner

from kaggle_kit.emulator.testing import ManualClock, call_rpc, control, running_emulator

COMP = "digit-recognizer"


def read_solution(store: Path, slug: str = COMP) -> list[dict[str, str]]:
    with open(store / slug / "solution.csv", newline="") as f:
        return list(csv.DictReader(f))


def write_predictions(path: Path, solution: list[dict[str, str]], id_col: str = "ImageId", label_col: str = "Label",
                      wrong_every: int = 3) -> dict[str, str]:
    """A submission that is right except on every `wrong_every`-th row; returns id -> predicted label."""
    preds = {}
    for i, row in enumerate(solution):
        truth = int(row[label_col])
        preds[row[id_col]] = str(truth if i % wrong_every else (truth + 1) % 10)
    path.write_text(f"{id_col},{label_col}\n" + "".join(f"{k},{v}\n" for k, v in preds.items()))
    return preds


def accuracy(solution: list[dict[str, str]], preds: dict[str, str], usage: str, id_col="ImageId",
             label_col="Label") -> float:
    rows = [r for r in solution if r["Usage"] == usage]
    return sum(preds[r[id_col]] == r[label_col] for r in rows) / len(rows)


def test_list_and_files(kaggle, emu_store):
    out = kaggle("competitions", "list")
    assert out.returncode == 0, out.stderr
    assert f"https://www.kaggle.com/competitions/{COMP}" in out.stdout
    assert "https://www.kaggle.com/competitions/limited-digits" in out.stdout

    searched = kaggle("competitions", "list", "-s", "limited")
    assert "limited-digits" in searched.stdout and COMP not in searched.stdout

    files = kaggle("competitions", "files", COMP)
    assert files.returncode == 0, files.stderr
    data = emu_store / COMP / "data"
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        line = next(ln for ln in files.stdout.splitlines() if ln.startswith(name + " "))
        assert line.split()[1] == str((data / name).stat().st_size)
    assert "solution.csv" not in files.stdout


def test_download_all_and_one_file(kaggle, emu_store, tmp_path):
    data = emu_store / COMP / "data"
    out = kaggle("competitions", "download", "-c", COMP, "-p", tmp_path / "all")
    assert out.returncode == 0, out.stderr
    archive = tmp_path / "all" / f"{COMP}.zip"
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["sample_submission.csv", "test.csv", "train.csv"]
        assert zf.read("train.csv") == (data / "train.csv").read_bytes()

    # A stable Last-Modified: a second download finds the local copy up to date.
    again = kaggle("competitions", "download", "-c", COMP, "-p", tmp_path / "all")
    assert again.returncode == 0 and "Skipping" in again.stdout

    one = kaggle("competitions", "download", "-c", COMP, "-f", "test.csv", "-p", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    assert (tmp_path / "one" / "test.csv").read_bytes() == (data / "test.csv").read_bytes()

    missing = kaggle("competitions", "download", "-c", COMP, "-f", "nope.csv", "-p", tmp_path / "one")
    assert missing.returncode == 1 and "'nope.csv' not found" in missing.stdout + missing.stderr

    unknown = kaggle("competitions", "files", "no-such-competition")
    assert unknown.returncode == 1 and "no-such-competition" in unknown.stdout + unknown.stderr


def test_submit_scores_like_an_independent_accuracy(emu_store, tmp_path):
    # Its own emulator: the shared one's daily limit is left to the other tests.
    with running_emulator(emu_store) as server:
        kaggle = make_runner(server, tmp_path / "home")
        solution = read_solution(emu_store)
        preds = write_predictions(tmp_path / "sub.csv", solution)
        out = kaggle("competitions", "submit", "-c", COMP, "-f", tmp_path / "sub.csv", "-m", "two thirds right")
        assert out.returncode == 0, out.stderr
        assert "Successfully submitted" in out.stdout
        assert "4 submissions remaining today." in out.stdout

        listed = kaggle("competitions", "submissions", COMP)
        assert listed.returncode == 0, listed.stderr
        row = next(ln for ln in listed.stdout.splitlines() if "two thirds right" in ln)
        public, private = f"{accuracy(solution, preds, 'Public'):.5f}", f"{accuracy(solution, preds, 'Private'):.5f}"
        assert "COMPLETE" in row and row.split()[-2:] == [public, private]
        assert 0.5 < float(public) < 0.8  # the fixture really is partly wrong, not trivially 0 or 1

        board = kaggle("competitions", "leaderboard", COMP, "-s")
        first = board.stdout.splitlines()[2].split()
        assert board.returncode == 0 and (first[1], first[-1]) == ("local", public)

        # The Python API (`kaggle.api`) reads the same submission.
        import subprocess
        import sys

        code = ("from kaggle import api; s = api.competition_submissions('digit-recognizer')[0]; "
                "print(s.status.name, s.public_score, s.file_name)")
        py = subprocess.run([sys.executable, "-c", code], env=kaggle.env, capture_output=True, text=True, timeout=120)
        assert py.stdout.split() == ["COMPLETE", public, "sub.csv"], py.stderr


def test_malformed_submission_is_scored_as_error(emu_store, tmp_path):
    with running_emulator(emu_store) as server:
        kaggle = make_runner(server, tmp_path / "home")
        bad = tmp_path / "bad.csv"
        bad.write_text("ImageId,Label\n1,3\n2,4\n")
        out = kaggle("competitions", "submit", COMP, "-f", bad, "-m", "too short")
        assert out.returncode == 0, out.stderr  # Kaggle accepts the upload; scoring fails afterwards
        listed = kaggle("competitions", "submissions", COMP)
        assert "SubmissionStatus.ERROR" in listed.stdout

        ref = server.backend.competitions.list_submissions("local", COMP)[0].ref
        sub = call_rpc(server, "competitions.CompetitionApiService/GetSubmission", {"ref": ref}).json()
        assert sub["status"] == "ERROR"
        assert "bad.csv: 38 of 40 ImageId values are missing" in sub["errorDescription"]
        assert sub["publicScore"] == ""


def test_daily_limit_and_private_score_until_deadline(emu_store, tmp_path):
    clock = ManualClock(start=1_800_000_000)  # 2027-01-15, before the 2030 deadline of limited-digits
    with running_emulator(emu_store, clock=clock) as server:
        kaggle = make_runner(server, tmp_path / "home")
        solution = read_solution(emu_store, "limited-digits")
        sub = tmp_path / "sub.csv"
        preds = write_predictions(sub, solution, id_col="id", label_col="label")

        first = kaggle("competitions", "submit", "limited-digits", "-f", sub, "-m", "one")
        assert first.returncode == 0 and "0 submissions remaining today." in first.stdout
        second = kaggle("competitions", "submit", "limited-digits", "-f", sub, "-m", "two")
        assert second.returncode == 1
        assert "daily submission allowance (1)" in second.stdout + second.stderr
        assert len(server.backend.competitions.submissions) == 1

        listed = call_rpc(server, "competitions.CompetitionApiService/ListSubmissions",
                          {"competitionName": "limited-digits"}).json()["submissions"]
        public = f"{accuracy(solution, preds, 'Public', 'id', 'label'):.5f}"
        assert [(s["publicScore"], s["privateScore"]) for s in listed] == [(public, "")]

        clock.advance(days=1)
        third = kaggle("competitions", "submit", "limited-digits", "-f", sub, "-m", "next day")
        assert third.returncode == 0 and "Successfully submitted" in third.stdout

        clock.now = 1_900_000_000  # 2030-03-17: past the deadline, the private board is revealed
        listed = call_rpc(server, "competitions.CompetitionApiService/ListSubmissions",
                          {"competitionName": "limited-digits"}).json()["submissions"]
        private = f"{accuracy(solution, preds, 'Private', 'id', 'label'):.5f}"
        assert [s["privateScore"] for s in listed] == [private, private]
        assert [s["description"] for s in listed] == ["next day", "one"]  # newest first


def test_pending_until_scoring_delay(emu_store, tmp_path):
    clock = ManualClock()
    with running_emulator(emu_store, clock=clock, scoring_delay=30) as server:
        kaggle = make_runner(server, tmp_path / "home")
        sample = emu_store / COMP / "data" / "sample_submission.csv"
        assert kaggle("competitions", "submit", COMP, "-f", sample, "-m", "x").returncode == 0
        assert "SubmissionStatus.PENDING" in kaggle("competitions", "submissions", COMP).stdout
        clock.advance(seconds=31)
        assert "SubmissionStatus.COMPLETE" in kaggle("competitions", "submissions", COMP).stdout


def test_wrong_key_is_401(emulator, tmp_path):
    kaggle = make_runner(emulator, tmp_path / "home", key="wrong")
    out = kaggle("competitions", "list")
    assert out.returncode == 1
    assert "Authentication required" in out.stdout + out.stderr
    raw = call_rpc(emulator, "competitions.CompetitionApiService/ListCompetitions", key="wrong")
    assert raw.status_code == 401 and raw.json()["code"] == 401
    anonymous = call_rpc(emulator, "competitions.CompetitionApiService/ListCompetitions", user=None)
    assert anonymous.status_code == 401


def test_access_token_via_introspection(emulator, tmp_path):
    """KAGGLE_API_TOKEN: the client introspects the token, then sends `Authorization: Bearer`."""
    kaggle = make_runner(emulator, tmp_path / "home", KAGGLE_API_TOKEN="other-key")
    del kaggle.env["KAGGLE_USERNAME"], kaggle.env["KAGGLE_KEY"]
    out = kaggle("competitions", "files", COMP)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "train.csv" in out.stdout
    assert emulator.rpc_calls("IntrospectToken")[-1].status == 200
    assert emulator.rpc_calls("ListDataFiles")[-1].user == "other"


def test_injected_rpc_fault_then_success(emulator, kaggle):
    emulator.add_fault("ListDataFiles", status=503, message="try again later")
    failed = kaggle("competitions", "files", COMP)
    assert failed.returncode == 1 and "try again later" in failed.stdout + failed.stderr
    ok = kaggle("competitions", "files", COMP)
    assert ok.returncode == 0 and "train.csv" in ok.stdout


def test_fault_control_endpoint(emulator):
    import requests

    spec = {"method": "GetSubmissionLimits", "status": 429, "retry_after": 2}
    # Without the admin token the control API neither changes nor shows anything, whatever user key is sent.
    assert requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=10).status_code == 401
    assert requests.get(f"{emulator.url}/_emulator/calls", auth=("local", "local"), timeout=10).status_code == 401
    assert requests.get(f"{emulator.url}/_emulator/faults", headers={"X-KK-Admin-Token": "local"},
                        timeout=10).status_code == 401
    assert emulator.backend.faults.pending() == []

    r = control(emulator, "POST", "faults", json=spec)
    assert r.status_code == 201
    limited = call_rpc(emulator, "competitions.CompetitionApiService/GetSubmissionLimits", {"competitionName": COMP})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert call_rpc(emulator, "competitions.CompetitionApiService/GetSubmissionLimits",
                    {"competitionName": COMP}).status_code == 200
    assert control(emulator, "POST", "faults", json={"status": 503}).status_code == 400
    calls = control(emulator, "GET", "calls", headers={"Authorization": f"Bearer {emulator.admin_token}"})
    assert calls.status_code == 200 and calls.json()["calls"]
