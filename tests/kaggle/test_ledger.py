"""The run ledger against the emulator: `kk submit` records the run a file came from, `kk runs` shows its public
score and rank, `kk runs note` tags it, `kk leaderboard` finds the user on the board, `kk runs --plot` draws CV vs
public score. The runs are real run folders as `kk train` lays them out (run.json + metrics.json), not trained
here: training is the training tests' job, this is about what happens to a run after it."""

from __future__ import annotations

import json

import pytest
from kk_kaggle_helpers import SLUG, invoke, run_kk, solution_rows, write_predictions

from kaggle_kit.io import atomic_write_json


def make_run(project, run_id: str, cv: float, recipe: str = "default"):
    run_dir = project / "runs" / SLUG / run_id
    run_dir.mkdir(parents=True)
    atomic_write_json(run_dir / "run.json", {"competition": SLUG, "recipe": recipe, "model": "small_cnn",
                                             "folds": 2, "created": f"2026-11-22T00:00:0{len(run_id) % 10}"})
    atomic_write_json(run_dir / "metrics.json", {"cv_accuracy": cv})
    for f in (0, 1):
        (run_dir / f"fold{f}").mkdir()
        (run_dir / f"fold{f}" / "done.json").write_text("{}")
    return run_dir


@pytest.fixture
def project(kk_env, store):
    assert invoke("download", SLUG).exit_code == 0
    return kk_env


def test_kk_runs_shows_the_public_score_and_rank_of_a_submitted_run(project, store, emulator, monkeypatch):
    rows = solution_rows(store)
    # Another team is on the board first, with a better score than the run below will get.
    monkeypatch.setenv("KAGGLE_USERNAME", "other")
    monkeypatch.setenv("KAGGLE_KEY", "other")
    best = write_predictions(project.project / "other.csv", rows)
    assert invoke("submit", SLUG, "--file", str(best), "--wait", "--poll-interval", "0.1").exit_code == 0
    monkeypatch.setenv("KAGGLE_USERNAME", "local")
    monkeypatch.setenv("KAGGLE_KEY", "local")

    run_a = make_run(project.project, "20261122-000001-default", 0.97123)
    make_run(project.project, "20261122-000002-seed003", 0.98000, recipe="seed003")  # never submitted
    sub = write_predictions(run_a / "submission.csv", rows, wrong=12)
    done = run_kk(project, "submit", "--file", str(sub.relative_to(project.project)), "--wait", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["run"].endswith(run_a.name) and out["rank"] == 2
    public = out["public_score"]
    assert public and float(public) < 1

    ledger = json.loads((run_a / "ledger.json").read_text())
    assert [(e["ref"], e["public_score"], e["rank"], e["teams"]) for e in ledger["submissions"]] == \
        [(out["ref"], public, 2, 2)]

    assert invoke("runs", "note", run_a.name, "rotation 15, first try").exit_code == 0
    listed = run_kk(project, "runs")  # piped: 80 columns, nothing cut
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if run_a.name in x)
    assert public in line and "0.97123" in line and "2/2" in line and "default" in line
    assert "rotation 15, first try" in " ".join(listed.stdout.split()) and "…" not in listed.stdout  # folded, whole
    assert max(len(x) for x in listed.stdout.splitlines()) <= 80

    rows_json = json.loads(invoke("runs", "--json").stdout)
    by_id = {r["run_id"]: r for r in rows_json}
    assert by_id[run_a.name]["public_score"] == public and by_id[run_a.name]["note"] == "rotation 15, first try"
    assert by_id["20261122-000002-seed003"]["public_score"] is None

    plotted = invoke("runs", "--plot")
    assert plotted.exit_code == 0, plotted.output
    png = project.project / "runs" / SLUG / "cv-vs-public.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_leaderboard_shows_my_position(project, store, emulator):
    sub = write_predictions(project.project / "mine.csv", solution_rows(store), wrong=20)
    assert invoke("submit", SLUG, "--file", str(sub), "--wait", "--poll-interval", "0.1").exit_code == 0
    board = run_kk(project, "leaderboard")
    assert board.returncode == 0, board.stderr
    assert "local (you)" in board.stdout and "you: rank" in board.stdout
    data = json.loads(run_kk(project, "leaderboard", "--around-me", "--rows", "1", "--json").stdout)
    assert data["me"]["team"] == "local" and [r["team"] for r in data["rows"]] == ["local"]
    assert data["me"]["rank"] == next(r["rank"] for r in data["rows"])


def test_runs_note_on_an_unknown_run_is_a_clear_error(project):
    result = invoke("runs", "note", "no-such-run", "x")
    assert result.exit_code == 1 and "run 'no-such-run' not found" in result.output


def test_a_wrong_run_is_refused_before_anything_is_uploaded(project, store, emulator):
    from kk_kaggle_helpers import my_submissions

    before = len(my_submissions(emulator))
    sub = write_predictions(project.project / "x.csv", solution_rows(store))
    result = invoke("submit", SLUG, "--file", str(sub), "--run", "nope")
    assert result.exit_code == 1 and "run 'nope' not found" in result.output
    assert len(my_submissions(emulator)) == before
