"""Where the emulator must be as strict as Kaggle: rules acceptance, code competitions, names that would become
paths, and the leaderboard (show and download), all through the official `kaggle` CLI or `kk`."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from emulator_helpers import make_runner
from test_emulator_competitions import read_solution, write_predictions

from kaggle_kit.emulator.testing import call_rpc, running_emulator
from kaggle_kit.sample_data import write_competition

RULES = "rules-digits"
FILES_ONLY = "files-only-digits"
USERS = {"local": "local", "other": "other-key"}


def _edit(store: Path, folder: str, **changes) -> None:
    meta_file = store / folder / "competition.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), **changes}))


@pytest.fixture(scope="module")
def strict_store(tmp_path_factory) -> Path:
    """`rules-digits` (rules must be accepted) and `files-only-digits` (not a code competition)."""
    root = tmp_path_factory.mktemp("strict-store")
    write_competition(root, layout="digit-recognizer", n_train=30, n_test=20, slug=RULES)
    _edit(root, RULES, rules_required=True)
    write_competition(root, layout="digit-recognizer", n_train=30, n_test=20, slug=FILES_ONLY, seed=5)
    _edit(root, FILES_ONLY, code_competition=False)
    return root


def test_rules_gate_downloads_and_submissions_until_accepted(strict_store, tmp_path):
    state = tmp_path / "state"
    with running_emulator(strict_store, state=state, users=USERS) as server:
        kaggle = make_runner(server, tmp_path / "home")
        other = make_runner(server, tmp_path / "home-other", user="other", key="other-key")
        sample = strict_store / RULES / "data" / "sample_submission.csv"

        assert kaggle("competitions", "files", RULES).returncode == 0  # the file list is public on Kaggle too
        for refused in (kaggle("competitions", "download", "-c", RULES, "-p", tmp_path / "dl"),
                        kaggle("competitions", "download", "-c", RULES, "-f", "test.csv", "-p", tmp_path / "dl"),
                        kaggle("competitions", "submit", RULES, "-f", sample, "-m", "too early")):
            text = refused.stdout + refused.stderr
            assert refused.returncode == 1, text
            assert "You must accept this competition's rules before you'll be able to" in text
            assert "you may need to accept its rules first" in text  # the official client's own 403 hint
        assert server.backend.competitions.list_submissions("local", RULES) == []
        raw = call_rpc(server, "competitions.CompetitionApiService/DownloadDataFiles", {"competitionName": RULES})
        # Kaggle's own 403 body for this case.
        assert raw.status_code == 403 and raw.json() == {
            "code": 403, "message": "You must accept this competition's rules before you'll be able to download files."}

        # `kk emulator accept-rules` through the running emulator's control API (token from the state folder).
        from typer.testing import CliRunner

        from kaggle_kit.cli import app

        accepted = CliRunner().invoke(app, ["emulator", "accept-rules", RULES, "--user", "local",
                                            "--state", str(state), "--url", server.url])
        assert accepted.exit_code == 0, accepted.output
        assert kaggle("competitions", "download", "-c", RULES, "-p", tmp_path / "dl").returncode == 0
        ok = kaggle("competitions", "submit", RULES, "-f", sample, "-m", "accepted")
        assert ok.returncode == 0 and "Successfully submitted" in ok.stdout, ok.stderr
        # Acceptance is per user.
        assert other("competitions", "download", "-c", RULES, "-p", tmp_path / "dl2").returncode == 1
        unknown = CliRunner().invoke(app, ["emulator", "accept-rules", RULES, "--user", "nobody",
                                           "--state", str(state), "--url", server.url])
        assert unknown.exit_code == 1 and "nobody" in unknown.output

    # Offline (emulator stopped): the state folder is changed directly and a restart keeps it.
    from typer.testing import CliRunner

    from kaggle_kit.cli import app

    offline = CliRunner().invoke(app, ["emulator", "accept-rules", RULES, "--user", "other", "--state", str(state),
                                       "--store", str(strict_store)])
    assert offline.exit_code == 0, offline.output
    with running_emulator(strict_store, state=state, users=USERS) as server:
        other = make_runner(server, tmp_path / "home-other", user="other", key="other-key")
        assert other("competitions", "download", "-c", RULES, "-p", tmp_path / "dl3").returncode == 0


def test_code_submission_only_to_code_competitions_and_with_a_version(strict_store, tmp_path):
    with running_emulator(strict_store, users=USERS) as server:
        kaggle = make_runner(server, tmp_path / "home")
        folder = tmp_path / "kernel"
        folder.mkdir()
        (folder / "saved-kernel.py").write_text("print(1)\n")
        (folder / "kernel-metadata.json").write_text(json.dumps({
            "id": "local/saved-kernel", "title": "saved-kernel", "code_file": "saved-kernel.py",
            "language": "python", "kernel_type": "script", "competition_sources": [FILES_ONLY]}))
        assert kaggle("kernels", "push", "-p", folder, "--no-run").returncode == 0
        refused = kaggle("competitions", "submit", FILES_ONLY, "-k", "local/saved-kernel", "-v", "1",
                         "-f", "submission.csv", "-m", "code")
        assert refused.returncode == 1 and "is not a code competition" in refused.stdout + refused.stderr
        # The client never sends a kernel without a version; the emulator refuses one as well.
        # Nor is a competition's data attached to a kernel before its rules are accepted.
        meta = json.loads((folder / "kernel-metadata.json").read_text())
        (folder / "kernel-metadata.json").write_text(json.dumps({**meta, "competition_sources": [RULES]}))
        gated = kaggle("kernels", "push", "-p", folder, "--no-run")
        assert f"not valid competition sources and could not be added to the kernel: ['{RULES}']" in gated.stdout
        raw = call_rpc(server, "competitions.CompetitionApiService/CreateCodeSubmission",
                       {"competitionName": RULES, "kernelOwner": "local", "kernelSlug": "saved-kernel"})
        assert raw.status_code == 400 and "version number" in raw.json()["message"]


def test_leaderboard_show_and_download(tmp_path):
    store = tmp_path / "store"
    write_competition(store, layout="digit-recognizer", n_train=30, n_test=60)
    comp = "digit-recognizer"
    solution = read_solution(store)
    with running_emulator(store, users={**USERS, "third": "k3"}) as server:
        runs = {name: make_runner(server, tmp_path / f"home-{name}", user=name, key=key)
                for name, key in {**USERS, "third": "k3"}.items()}
        public = {}
        for name, wrong_every, n in (("local", 3, 2), ("other", 7, 1)):
            write_predictions(tmp_path / f"{name}.csv", solution, wrong_every=wrong_every)
            for i in range(n):  # two of local's: only the team's best counts
                out = runs[name]("competitions", "submit", comp, "-f", tmp_path / f"{name}.csv", "-m", f"try {i}")
                assert out.returncode == 0, out.stderr
        for name in ("local", "other"):
            subs = server.backend.competitions.list_submissions(name, comp)
            public[name] = max(s.public_score for s in subs)
        assert public["local"] != public["other"]

        shown = runs["third"]("competitions", "leaderboard", comp, "--show")  # anyone may look
        assert shown.returncode == 0, shown.stderr
        rows = [ln.split() for ln in shown.stdout.splitlines()[2:] if ln.strip()]
        order = sorted(public, key=lambda n: -public[n])
        assert [r[1] for r in rows] == order  # third has not submitted: not on the board
        assert [float(r[-1]) for r in rows] == [pytest.approx(public[n], abs=1e-5) for n in order]

        dl = runs["third"]("competitions", "leaderboard", comp, "--download", "-p", tmp_path / "lb")
        assert dl.returncode == 0, dl.stderr
        with zipfile.ZipFile(tmp_path / "lb" / f"{comp}.zip") as zf:
            assert zf.namelist() == [f"{comp}-publicleaderboard.csv"]
            table = list(csv.DictReader(io.StringIO(zf.read(zf.namelist()[0]).decode())))
        assert [(r["Rank"], r["TeamName"], r["SubmissionCount"]) for r in table] == [
            ("1", order[0], "2" if order[0] == "local" else "1"), ("2", order[1], "2" if order[1] == "local" else "1")]
        assert [float(r["Score"]) for r in table] == [pytest.approx(public[n], abs=1e-5) for n in order]


def test_private_scores_stay_off_the_leaderboard_before_the_deadline(emulator, emu_store):
    # limited-digits has a deadline in 2030: its private board is empty, the public one shows public scores only.
    board = call_rpc(emulator, "competitions.CompetitionApiService/GetLeaderboard",
                     {"competitionName": "limited-digits", "overridePublic": True})
    assert board.status_code == 200 and board.json()["submissions"] == []


def test_names_that_would_escape_the_state_folder_are_refused(emu_store, tmp_path):
    state = tmp_path / "deep" / "state"
    with running_emulator(emu_store, state=state) as server:
        for slug in ("local/../../../escaped-kernel", "local/..%2f..%2fx-kernel", "local/a/../../../../escaped-two"):
            r = call_rpc(server, "kernels.KernelsApiService/SaveKernel",
                         {"slug": slug, "text": "print(1)", "language": "python", "kernelType": "script",
                          "kernelExecutionType": "QUICK_SAVE"})
            assert r.status_code == 200 and "Invalid kernel slug" in r.json().get("error", ""), (slug, r.text)
        assert not (tmp_path / "escaped-kernel").exists() and not (tmp_path / "deep" / "escaped-kernel").exists()
        assert server.backend.kernels.kernels == {}
        upload = call_rpc(server, "blobs.BlobApiService/StartBlobUpload",
                          {"type": "DATASET", "name": "../up.bin", "contentLength": 1})
        assert upload.status_code == 400

    bad_store = tmp_path / "bad-store"
    write_competition(bad_store, layout="digit-recognizer", n_train=10, n_test=10)
    _edit(bad_store, "digit-recognizer", slug="../../outside")
    with pytest.raises(ValueError, match="invalid slug"):
        running_emulator(bad_store).__enter__()
    with pytest.raises(ValueError, match="user name"):
        running_emulator(emu_store, users=("../x:key",)).__enter__()
