"""The benchmarks' own machinery: scoring against solution.csv, stretched fill recipes, the results table.

The benchmarks themselves need the full-size competitions and hours; these checks need neither.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_accuracy, common
from kaggle_kit.training.recipes import load_recipe


def _write(path, text):
    path.write_text(text)
    return path


def test_score_submission_splits_public_and_private(tmp_path):
    solution = _write(tmp_path / "solution.csv",
                      "ImageId,Label,Usage\n1,3,Public\n2,4,Public\n3,5,Private\n4,6,Private\n")
    # Rows in another order and one wrong answer in the private part.
    submission = _write(tmp_path / "submission.csv", "ImageId,Label\n4,0\n3,5\n2,4\n1,3\n")
    score = common.score_submission(submission, solution)
    assert score == {"all": 0.75, "n": 4, "public": 1.0, "private": 0.5}


def test_score_submission_counts_missing_rows_as_wrong(tmp_path):
    solution = _write(tmp_path / "solution.csv", "id,label,Usage\n0,1,Public\n1,2,Private\n")
    submission = _write(tmp_path / "submission.csv", "id,label\n0,1\n")
    assert common.score_submission(submission, solution)["all"] == 0.5


def test_compare_submissions_counts_the_rows_only_one_gets_right_and_tests_them(tmp_path):
    n = 200
    solution = _write(tmp_path / "solution.csv", "ImageId,Label,Usage\n" + "".join(f"{i},1,Private\n" for i in range(n)))
    # a: right on all but rows 0-4; b: wrong on rows 0-39 as well (35 more): 35 rows only a gets right, none only b
    a = _write(tmp_path / "a.csv", "ImageId,Label\n" + "".join(f"{i},{0 if i < 5 else 1}\n" for i in range(n)))
    b = _write(tmp_path / "b.csv", "ImageId,Label\n" + "".join(f"{i},{0 if i < 40 else 1}\n" for i in reversed(range(n))))
    c = common.compare_submissions(a, b, solution)
    assert (c["rows"], c["only_a"], c["only_b"], c["a"], c["b"]) == (n, 35, 0, 0.975, 0.8)
    assert c["mcnemar_p"] == pytest.approx(2 * 0.5**35)
    same = common.compare_submissions(a, a, solution)
    assert (same["only_a"], same["only_b"], same["mcnemar_p"]) == (0, 0, 1.0)


def test_paired_budget_rows_need_a_gap_that_is_not_luck(tmp_path, monkeypatch):
    from benchmarks import bench_budget

    monkeypatch.setattr(bench_budget, "JOBS_DIR", tmp_path)
    base = {"competition": "mirror-halves", "budget_min": 30, "rows": 10000, "jobs": ["x", "y"], "date": "2026-12-03"}
    _write(tmp_path / "paired-a.json", json.dumps({**base, "default": 0.99, "digit_tuned": 0.98, "only_default_right": 150,
                                                   "only_digit_tuned_right": 50, "mcnemar_p": 1e-12}))
    _write(tmp_path / "paired-b.json", json.dumps({**base, "default": 0.9902, "digit_tuned": 0.99, "only_default_right": 12,
                                                   "only_digit_tuned_right": 10, "mcnemar_p": 0.83}))
    rows = bench_budget.rows()
    assert [r.met for r in rows] == [True, False]
    assert "+1.00 points" in rows[0].value and "McNemar p = 1e-12" in rows[0].value


def test_a_set_job_is_compared_with_the_same_job_without_it_on_the_same_rows(tmp_path, monkeypatch):
    from benchmarks import bench_budget

    monkeypatch.setattr(bench_budget, "JOBS_DIR", tmp_path / "jobs")
    monkeypatch.setattr(bench_budget, "RUNS_DIR", tmp_path / "runs")
    n = 100
    solution = _write(tmp_path / "solution.csv", "ImageId,Label,Usage\n" + "".join(f"{i},1,Private\n" for i in range(n)))
    base = bench_budget.job_name("digit-recognizer", 10, "off")
    other = bench_budget.job_name("digit-recognizer", 10, "off", sets=("optimizer.ema=0.999",))
    (tmp_path / "runs" / base).mkdir(parents=True)
    (tmp_path / "runs" / other).mkdir(parents=True)
    (tmp_path / "jobs").mkdir()
    # the base job is wrong on rows 0-9, the set job on rows 5-7 only: 7 rows only it gets right, none only the base
    _write(tmp_path / "runs" / base / "submission.csv",
           "ImageId,Label\n" + "".join(f"{i},{0 if i < 10 else 1}\n" for i in range(n)))
    _write(tmp_path / "runs" / other / "submission.csv",
           "ImageId,Label\n" + "".join(f"{i},{0 if 5 <= i < 8 else 1}\n" for i in range(n)))
    job = {"job": other, "competition": "digit-recognizer", "budget_min": 10, "probe": "off", "folds": 1,
           "test_accuracy": 0.97, "val_accuracy": 0.97, "epochs_run": 30, "budget": {"actual_s": 500},
           "date": "2026-12-03", "command": "c", "sets": ["optimizer.ema=0.999"]}
    _write(tmp_path / "jobs" / f"{other}.json", json.dumps(job))
    _write(tmp_path / "jobs" / f"{base}.json", json.dumps({**job, "job": base, "sets": [], "epochs_run": 33}))
    bench_budget.versus_base("digit-recognizer", 10, "off", None, None, "default", solution)
    vb = json.loads((tmp_path / "jobs" / f"{other}.json").read_text())["versus_base"]
    assert (vb["job"], vb["only_this_right"], vb["only_base_right"], vb["base_epochs_run"]) == (base, 7, 0, 33)
    assert vb["mcnemar_p"] == pytest.approx(2 * 0.5**7)
    (row,) = [r for r in bench_budget.rows() if "with optimizer.ema=0.999" in r.what]
    assert "rows only this gets right 7, only that 0" in row.value and "33 epochs, test 0.90000" in row.value


@pytest.mark.parametrize("name", ["seed002", "seed003"])
def test_stretch_keeps_an_exponential_curve_over_more_epochs(name):
    recipe = load_recipe(name)
    epochs = recipe.epochs * 4
    stretched = load_recipe(name, [f"epochs={epochs}", *bench_accuracy.stretch_overrides(recipe, epochs)])
    # The learning rate at the end of the stretched run is the one at the end of the recipe's own run.
    assert stretched.schedule.decay ** epochs == pytest.approx(recipe.schedule.decay ** recipe.epochs, rel=1e-4)


def test_stretch_moves_step_boundaries_and_leaves_relative_schedules_alone():
    seed000 = load_recipe("seed000")
    assert seed000.schedule.name == "step"
    overrides = bench_accuracy.stretch_overrides(seed000, seed000.epochs * 2)
    stretched = load_recipe("seed000", overrides)
    assert stretched.schedule.boundaries == [b * 2 for b in seed000.schedule.boundaries]
    cosine = load_recipe("default", ["schedule.name=\"cosine\""])
    assert bench_accuracy.stretch_overrides(cosine, 80) == []


def _job(tmp_path, **fields):
    job = {"job": "x", "recipe": "default", "model": "kk_cnn", "budget_min": 30, "folds": [0], "k": 5,
           "epochs": 60, "recipe_epochs": 8, "train_seconds": [1790.0], "val_accuracy": [0.994],
           "test_accuracy": 0.9951, "public": 0.996, "private": 0.9948, "tta": 0, "fill": True, "stretch": []}
    job.update(fields)
    (tmp_path / f"{job['job']}.json").write_text(json.dumps(job))


def test_accuracy_table_judges_targets_from_the_measured_scores(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_accuracy, "JOBS_DIR", tmp_path)
    _job(tmp_path, job="default-30min-fill", test_accuracy=0.9951)
    _job(tmp_path, job="seed003-10min", recipe="seed003", model="seed003_deotte", budget_min=10, test_accuracy=0.9912,
         fill=False)
    _job(tmp_path, job="ensemble-default-30min-tta2", folds=[0, 1, 2, 3, 4], train_seconds=[200.0] * 5,
         val_accuracy=[0.992] * 5, test_accuracy=0.9950, tta=2, fill=False)
    _job(tmp_path, job="default-30min-slow", train_seconds=[1810.0], test_accuracy=0.9960)
    _job(tmp_path, job="default-30min-kept", train_seconds=[1950.0], best_minutes=[25.3], test_accuracy=0.9954)
    rows = {r.extra["job"]: r for r in bench_accuracy.build_section().rows}
    assert rows["default-30min-fill"].met is True
    assert rows["default-30min-slow"].met is False  # accurate enough, but trained past the 30 minutes
    # Trained on past 30 minutes, but the checkpoint it kept and was scored with was saved at 25.3 minutes.
    assert rows["default-30min-kept"].met is True
    assert "kept checkpoint saved at 25.3 min" in rows["default-30min-kept"].value
    assert rows["seed003-10min"].target == "" and rows["seed003-10min"].met is None
    assert rows["ensemble-default-30min-tta2"].met is False
    assert "5 folds" in rows["ensemble-default-30min-tta2"].value
    # The 10-minute row sorts before the 30-minute rows, the ensemble last.
    assert [r.extra["job"] for r in bench_accuracy.build_section().rows][-1] == "ensemble-default-30min-tta2"
    assert list(rows)[0] == "seed003-10min"


def test_markdown_marks_missed_targets(tmp_path):
    section = common.Section("accuracy", "Accuracy", "make bench-accuracy",
                             [common.Row("single", "0.9940", ">= 0.995", False), common.Row("info", "1 s")],
                             notes=["a note"])
    from dataclasses import asdict

    text = common.render_markdown({"accuracy": asdict(section)})
    assert "| Accuracy | single | 0.9940 | >= 0.995 | **no** |" in text  # the targets-at-a-glance table
    assert "| info | 1 s |  |  |" in text
    assert "- a note" in text


def test_missing_full_size_data_is_reported_not_invented(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(common, "DATA_DIR", tmp_path / "store")
    monkeypatch.setattr(common, "MAKE_COMPETITIONS", tmp_path / "absent" / "make_competitions.py")
    assert common.digit_recognizer() is None
    assert "full-size data absent" in capsys.readouterr().err
    section = common.absent_section("loading", "Loading", "python -m benchmarks.bench_loading")
    assert [(r.what, r.value) for r in section.rows] == [("full-size data", "absent")]


def test_budget_job_names_keep_the_saved_jobs_and_name_recipe_and_pseudo_labels():
    from benchmarks.bench_budget import job_name

    # names of jobs already saved in benchmarks/results/budget must not change
    assert job_name("digit-recognizer", 10, "off", folds=5, tta=2) == "digit-recognizer-10min-probe-off-5folds-tta2"
    assert job_name("mirror-halves", 30, "auto") == "mirror-halves-30min-invariance-auto"
    assert job_name("digit-recognizer", 10, "off", recipe="seed003") == "digit-recognizer-seed003-10min-probe-off"
    assert (job_name("digit-recognizer", 10, "off", pseudo="digit-recognizer-10min-probe-off")
            == "digit-recognizer-10min-probe-off-pseudo-from-digit-recognizer-10min-probe-off")
    # a recipe override is part of the name, so a variant never overwrites the default's job
    assert (job_name("mirror-halves", 10, "auto", sets=("model.params.width=2",))
            == "mirror-halves-10min-invariance-auto-set-model.params.width=2")
