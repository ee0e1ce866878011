"""Submission validation says exactly where the problem is (row, line, the offending text, how many more), and a
valid file's summary is right. Complements tests/test_submission.py; written against mutation-testing survivors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kaggle_kit.competition import Competition
from kaggle_kit.errors import SubmissionError
from kaggle_kit.submission import validate_submission, write_submission


@pytest.fixture
def good(digit_data, tmp_path):
    comp = Competition.open(digit_data)
    labels = np.arange(comp.spec.test_rows) % 7
    path = write_submission(comp, labels, tmp_path / "submission.csv")
    return comp, path, labels


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str], tail: str = "\n") -> Path:
    path.write_text("\n".join(lines) + tail)
    return path


def _error(path: Path, comp: Competition) -> str:
    with pytest.raises(SubmissionError) as info:
        validate_submission(path, comp.spec)
    return str(info.value)


def test_writer_uses_plain_newlines_and_the_summary_counts_labels(good):
    comp, path, labels = good
    assert b"\r" not in path.read_bytes()
    check = validate_submission(path, comp.spec)
    assert check.path == path and check.rows == comp.spec.test_rows
    assert check.label_counts == {str(k): v for k, v in sorted(Counter(labels.tolist()).items())}


def test_a_trailing_blank_line_is_harmless(good):
    comp, path, _ = good
    lines = _lines(path)
    _write(path, lines, tail="\n\n")
    assert validate_submission(path, comp.spec).rows == comp.spec.test_rows
    _write(path, lines[:-1] + ["", lines[-1]])  # a blank line inside is not
    assert "wrong number of fields (expected 2) at row 119 (line 121): ''" in _error(path, comp)


def test_more_than_five_problems_show_five_and_count_the_rest(good):
    comp, path, _ = good
    lines = _lines(path)
    for i in range(1, 9):  # rows 0..7 without a label
        lines[i] = lines[i].split(",")[0] + ","
    _write(path, lines)
    msg = _error(path, comp)
    shown = ", ".join(f"row {r} (line {r + 2}): '{r + 1},'" for r in range(5))
    assert msg == f"{path}: empty or NaN value at {shown} and 3 more"


def test_exactly_five_problems_show_all_and_no_more(good):
    comp, path, _ = good
    lines = _lines(path)
    for i in range(1, 6):
        lines[i] = lines[i] + ",x"
    _write(path, lines)
    msg = _error(path, comp)
    assert msg.endswith("row 4 (line 6): '5,4,x'") and "more" not in msg


@pytest.mark.parametrize("word", ["", "nan", "NaN", "NA", "null", "None"])
def test_each_missing_value_spelling_is_reported_as_missing(good, word):
    comp, path, _ = good
    lines = _lines(path)
    lines[3] = f"3,{word}"
    _write(path, lines)
    assert f"empty or NaN value at row 2 (line 4): '3,{word}'" in _error(path, comp)


def test_duplicate_and_unknown_ids_show_the_ids(good):
    comp, path, _ = good
    lines = _lines(path)
    for i in range(2, 9):
        lines[i] = f"1,{i % 7}"  # seven more rows claiming ImageId 1
    _write(path, lines)
    msg = _error(path, comp)
    assert msg == (f"{path}: duplicate ImageId at row 1 (line 3): '1', row 2 (line 4): '1', row 3 (line 5): '1', "
                   "row 4 (line 6): '1', row 5 (line 7): '1' and 2 more")


def test_labels_outside_the_class_set_are_shown(good):
    comp, path, _ = good
    lines = _lines(path)
    lines[8] = "8,12"
    _write(path, lines)
    msg = _error(path, comp)
    assert msg == (f"{path}: Label outside the class set ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] "
                   "at row 7 (line 9): '12'")


def test_unreadable_missing_and_empty_files_are_named(good, tmp_path):
    comp, _, _ = good
    missing = tmp_path / "nope.csv"
    assert _error(missing, comp) == f"{missing}: file not found"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert _error(empty, comp) == f"{empty}: file is empty"
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    assert _error(binary, comp).startswith(f"{binary}: not a readable CSV file (")


def test_six_problems_show_five_and_one_more(good):
    comp, path, _ = good
    lines = _lines(path)
    for i in range(1, 7):
        lines[i] = lines[i] + ",x"
    _write(path, lines)
    assert _error(path, comp).endswith("row 4 (line 6): '5,4,x' and 1 more")
