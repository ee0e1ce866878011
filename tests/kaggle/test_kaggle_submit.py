"""`kk submit` and `kk submissions` against the emulator with the real official client over real HTTP."""

from __future__ import annotations

import json
import os
import time

import pytest
from kk_kaggle_helpers import (
    LIMITED,
    SLUG,
    invoke,
    my_submissions,
    public_accuracy,
    run_kk,
    solution_rows,
    write_predictions,
)


@pytest.fixture
def downloaded(kk_env):
    for slug in (SLUG, LIMITED):
        result = invoke("download", slug)
        assert result.exit_code == 0, result.output
    return kk_env


def test_submit_wait_prints_the_independently_computed_score(downloaded, store, emulator):
    rows = solution_rows(store)
    sub = write_predictions(downloaded.project / "partly-wrong.csv", rows, wrong=9)
    expected = public_accuracy(store, sub)
    assert 0 < expected < 1  # some public rows are among the wrong ones
    before = len(my_submissions(emulator))
    result = run_kk(downloaded, "submit", SLUG, "--file", str(sub), "-m", "nine wrong", "--wait", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "COMPLETE"
    assert float(out["public_score"]) == pytest.approx(expected, abs=1e-5)
    assert len(my_submissions(emulator)) == before + 1
    stored = emulator.backend.competitions.submissions[out["ref"]]
    assert stored.description == "nine wrong" and stored.file_name == "partly-wrong.csv"

    perfect = write_predictions(downloaded.project / "perfect.csv", rows)
    result = invoke("submit", "--file", str(perfect), "--wait")  # competition from kk.toml
    assert result.exit_code == 0, result.output
    assert "public score: 1.00000" in result.output


def test_invalid_submission_is_never_uploaded(downloaded, store, emulator):
    before = len(my_submissions(emulator))
    rows = solution_rows(store)
    short = write_predictions(downloaded.project / "short.csv", rows[:-1])
    result = invoke("submit", SLUG, "--file", str(short))
    assert result.exit_code == 1
    assert "short.csv: 59 rows, expected 60" in result.output
    bad_label = write_predictions(downloaded.project / "bad.csv", rows)
    bad_label.write_text(bad_label.read_text().replace(f"\n1,{rows[0]['Label']}\n", "\n1,X\n"))
    result = invoke("submit", SLUG, "--file", str(bad_label))
    assert result.exit_code == 1 and "outside the class set" in result.output
    assert len(my_submissions(emulator)) == before
    assert not [u for u in emulator.backend.blobs.uploads.values() if u.name in ("short.csv", "bad.csv")]


def test_daily_limit_is_enforced_with_a_clear_message(downloaded, store, emulator):
    sub = write_predictions(downloaded.project / "limited.csv", solution_rows(store, LIMITED))
    used = len(my_submissions(emulator, slug=LIMITED))
    for _ in range(2 - used):
        assert invoke("submit", LIMITED, "--file", str(sub)).exit_code == 0
    result = invoke("submit", LIMITED, "--file", str(sub))
    assert result.exit_code == 1
    assert "daily submission limit reached for 'limited-digits'" in result.output
    assert "00:00 UTC" in result.output and "was not submitted" in result.output
    assert len(my_submissions(emulator, slug=LIMITED)) == 2


def test_503_on_upload_start_is_retried_once_submitted_once(downloaded, store, emulator):
    sub = write_predictions(downloaded.project / "retry.csv", solution_rows(store))
    before = len(my_submissions(emulator))
    emulator.backend.faults.add("StartSubmissionUpload", status=503, times=1)
    emulator.backend.faults.add("CreateSubmission", status=503, times=1)
    result = invoke("submit", SLUG, "--file", str(sub), "--json")
    assert result.exit_code == 0, result.output
    assert emulator.backend.faults.pending() == []
    assert len(my_submissions(emulator)) == before + 1
    assert json.loads(result.stdout.strip().splitlines()[-1])["status"] in ("PENDING", "COMPLETE")


def test_bare_submit_picks_the_newest_valid_submission(downloaded, store, emulator):
    rows = solution_rows(store)
    older = write_predictions(downloaded.project / "runs" / SLUG / "run-a" / "submission.csv", rows, wrong=3)
    newest_invalid = write_predictions(downloaded.project / "runs" / SLUG / "run-b" / "submission.csv", rows[:10])
    now = time.time()
    os.utime(older, (now - 60, now - 60))
    os.utime(newest_invalid, (now, now))
    result = invoke("submit", "--wait", "--poll-interval", "0.1")
    assert result.exit_code == 0, result.output
    assert "picked" in result.output and "run-a" in result.output
    assert "skipped" in result.output and "run-b" in result.output
    assert f"public score: {public_accuracy(store, older):.5f}" in result.output


def test_submissions_table_and_json(downloaded, store, emulator, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one table row per submission
    sub = write_predictions(downloaded.project / "listed.csv", solution_rows(store))
    assert invoke("submit", SLUG, "--file", str(sub), "-m", "listed one", "--wait").exit_code == 0
    table = invoke("submissions")
    assert table.exit_code == 0, table.output
    assert "listed one" in table.output and "COMPLETE" in table.output and "1.00000" in table.output
    listed = json.loads(invoke("submissions", SLUG, "--json").stdout)
    assert listed[0]["description"] == "listed one" and listed[0]["public_score"] == "1.00000"
    assert len(listed) == len(my_submissions(emulator, slug=SLUG))


def test_other_users_do_not_see_my_submissions(downloaded, store, emulator, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "other")
    monkeypatch.setenv("KAGGLE_KEY", "other")
    result = invoke("submissions", SLUG, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_a_submission_the_server_cannot_score_is_reported_clearly(downloaded, store, emulator, monkeypatch):
    from kaggle_kit.errors import KKError
    from kaggle_kit.kaggle.client import KaggleClient
    from kaggle_kit.kaggle.submit import wait_for_score

    # The adapter's raw upload sends any file (kk submit validates first); the server scores this one as ERROR.
    bad = downloaded.project / "two-columns-missing.csv"
    bad.write_text("ImageId,Label\n1,3\n")
    client = KaggleClient(backoff=0.01)
    ref = client.submit(SLUG, bad, "raw upload")
    with pytest.raises(KKError, match=rf"submission {ref} failed to score: .*missing"):
        wait_for_score(client, ref, poll=0.05, timeout=10)
