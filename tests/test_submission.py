"""Submission writer round trip on both layouts, and one test per problem class the validator catches."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.competition import Competition
from kaggle_kit.errors import SubmissionError
from kaggle_kit.submission import validate_submission, write_submission

runner = CliRunner()


def _solution(store_root: Path, slug: str) -> dict[str, str]:
    with open(store_root / slug / "solution.csv") as f:
        rows = list(csv.reader(f))
    return {r[0]: r[1] for r in rows[1:]}


def _perfect_predictions(comp: Competition, solution: dict[str, str]) -> np.ndarray:
    raw = np.array([solution[i] for i in comp.test_ids()]).astype(type(comp.spec.classes[0]))
    return comp.spec.encode_labels(raw)


@pytest.mark.parametrize("layout", ["digit", "kannada"])
def test_writer_round_trip(layout, digit_store, kannada_store, tmp_path):
    store, slug = (digit_store, "digit-recognizer") if layout == "digit" else (kannada_store, "Kannada-MNIST")
    comp = Competition.open(store / slug / "data")
    solution = _solution(store, slug)
    out = write_submission(comp, _perfect_predictions(comp, solution), tmp_path / "submission.csv")
    with open(out) as f:
        rows = list(csv.reader(f))
    sample = (store / slug / "data" / "sample_submission.csv").read_text().splitlines()
    assert rows[0] == sample[0].split(",")
    assert [r[0] for r in rows[1:]] == [line.split(",")[0] for line in sample[1:]]
    assert {r[0]: r[1] for r in rows[1:]} == solution  # original label values, mapped back from indices
    check = validate_submission(out, comp.spec)
    assert check.rows == len(solution)


def test_writer_follows_sample_order_not_test_order(kannada_data, tmp_path):
    """Kannada layout: ids come from test.csv; the file must follow the sample submission's order."""
    sample = kannada_data / "sample_submission.csv"
    lines = sample.read_text().splitlines()
    sample.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    comp = Competition.open(kannada_data)
    preds = np.arange(len(comp.test_ids())) % comp.spec.num_classes
    out = write_submission(comp, preds, tmp_path / "s.csv")
    rows = out.read_text().splitlines()[1:]
    expected = dict(zip(comp.test_ids(), comp.spec.decode_labels(preds).tolist()))
    assert [r.split(",")[0] for r in rows] == [line.split(",")[0] for line in reversed(lines[1:])]
    assert all(r.split(",")[1] == str(expected[r.split(",")[0]]) for r in rows)


@pytest.fixture
def good(digit_data, tmp_path):
    comp = Competition.open(digit_data)
    path = write_submission(comp, np.zeros(comp.spec.test_rows, int), tmp_path / "submission.csv")
    return comp, path


def _edit(path: Path, fn) -> Path:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")
    return path


def _set(lines, i, text):
    lines[i] = text
    return lines


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ls: _set(ls, 0, "id,label"), "header is 'id,label', expected 'ImageId,Label'"),
        (lambda ls: ls[:-2], "118 rows, expected 120"),
        (lambda ls: _set(ls, 3, "3,"), "empty or NaN value at row 2 (line 4)"),
        (lambda ls: _set(ls, 3, "3,nan"), "empty or NaN value at row 2 (line 4)"),
        (lambda ls: _set(ls, 5, "2,0"), "duplicate ImageId at row 4 (line 6): '2'"),
        (lambda ls: _set(ls, 5, "999,0"), "ImageId not in the test set at row 4 (line 6): '999'"),
        (lambda ls: _set(ls, 7, "7,11"), "Label outside the class set"),
        (lambda ls: _set(ls, 7, "7,1.0"), "Label outside the class set"),
        (lambda ls: _set(ls, 7, "7,1,2"), "wrong number of fields (expected 2) at row 6 (line 8)"),
    ],
)
def test_validator_catches_each_problem(good, edit, message):
    comp, path = good
    _edit(path, edit)
    with pytest.raises(SubmissionError) as info:
        validate_submission(path, comp.spec)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_validate_submission_cli(good, digit_data):
    comp, path = good
    ok = runner.invoke(app, ["validate-submission", str(path), "-c", "digit-recognizer", "--data-dir", str(digit_data)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output and "120 rows" in ok.output
    _edit(path, lambda ls: _set(ls, 5, "2,0"))
    bad = runner.invoke(app, ["validate-submission", str(path), "-c", "digit-recognizer", "--data-dir", str(digit_data)])
    assert bad.exit_code == 1
    assert "duplicate ImageId" in bad.output and "Traceback" not in bad.output


def test_wrong_prediction_count_is_refused(digit_data, tmp_path):
    comp = Competition.open(digit_data)
    with pytest.raises(SubmissionError, match="119 predictions for 120 test rows"):
        write_submission(comp, np.zeros(119, int), tmp_path / "s.csv")
    assert not (tmp_path / "s.csv").exists()


def test_rows_in_any_order_and_a_bom_are_accepted_like_kaggles_scorer(good):
    comp, path = good
    _edit(path, lambda ls: [ls[0], *reversed(ls[1:])])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    check = validate_submission(path, comp.spec)
    assert check.rows == comp.spec.submission_rows
