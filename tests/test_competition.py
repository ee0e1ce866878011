"""Spec detection on both layouts, label mapping, and every bad-input case named precisely."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kaggle_kit.cli import app
from kaggle_kit.competition import Competition, detect_spec
from kaggle_kit.errors import DataError

runner = CliRunner()


def kk(*args: str):
    return runner.invoke(app, list(args))


def test_digit_recognizer_layout(digit_data):
    spec = detect_spec(digit_data)
    assert (spec.id_column, spec.target_column, spec.label_column) == ("ImageId", "Label", "label")
    assert spec.test_has_ids is False
    assert spec.image_shape == (28, 28, 1)
    assert spec.classes == list(range(10))
    assert (spec.train_rows, spec.test_rows, spec.submission_rows) == (400, 120, 120)
    assert spec.extra_labelled == {}


def test_kannada_layout_with_extra_file_and_noncontiguous_labels(kannada_data):
    spec = detect_spec(kannada_data)
    assert (spec.id_column, spec.target_column, spec.label_column) == ("id", "label", "label")
    assert spec.test_has_ids is True
    assert spec.classes == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert spec.extra_labelled == {"Dig-MNIST.csv": 80}
    comp = Competition(spec)
    x, y = comp.train_arrays()
    assert x.shape == (400, 28, 28, 1) and x.dtype == np.uint8
    assert y.min() == 0 and y.max() == 9
    np.testing.assert_array_equal(spec.decode_labels(y), comp.train.labels)
    xe, ye = comp.extra_arrays("Dig-MNIST.csv")
    assert len(xe) == 80 and ye.max() <= 9


def test_string_labels_round_trip(digit_data):
    train = digit_data / "train.csv"
    lines = train.read_text().splitlines()
    names = "zero one two three four five six seven eight nine".split()
    out = [lines[0]] + [names[int(r.split(",", 1)[0])] + "," + r.split(",", 1)[1] for r in lines[1:]]
    train.write_text("\n".join(out) + "\n")
    spec = detect_spec(digit_data)
    assert spec.classes == sorted(names)
    comp = Competition(spec)
    _, y = comp.train_arrays()
    assert set(spec.decode_labels(y)) == set(names)


def test_kk_info_json(kannada_data):
    result = kk("info", "Kannada-MNIST", "--data-dir", str(kannada_data), "--json")
    assert result.exit_code == 0, result.output
    spec = json.loads(result.stdout)
    for key in ("id_column", "target_column", "test_has_ids", "classes", "image_shape", "train_rows", "test_rows",
                "extra_labelled"):
        assert key in spec
    assert spec["image_shape"] == [28, 28, 1] and spec["test_has_ids"] is True
    assert spec["extra_labelled"] == {"Dig-MNIST.csv": 80}


def test_kk_info_table_and_cache_warmed(digit_data):
    result = kk("info", "digit-recognizer", "--data-dir", str(digit_data))
    assert result.exit_code == 0, result.output
    assert "ImageId,Label" in result.output and "28x28x1" in result.output
    assert (digit_data / ".kk-cache" / "train.csv" / "key.json").is_file()
    assert (digit_data / ".kk-cache" / "test.csv" / "images.npy").is_file()


def test_kk_toml_supplies_the_competition(digit_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = kk("init", "digit-recognizer")
    assert result.exit_code == 0 and (tmp_path / "kk.toml").is_file()
    result = kk("info", "--data-dir", str(digit_data), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["slug"] == "digit-recognizer"
    assert "digit-recognizer (from kk.toml)" in result.stderr


def test_no_competition_and_no_kk_toml_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = kk("info")
    assert result.exit_code == 1
    assert "no competition given and no kk.toml" in result.output


def _set_cell(path: Path, row: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row + 1].split(",")
    cells[header.index(column)] = value
    lines[row + 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("abc", "row 7 (line 9), column 'pixel300': pixel 'abc' is not a number"),
        ("256", "row 7 (line 9), column 'pixel300': pixel 256 is outside 0..255"),
        ("-3", "row 7 (line 9), column 'pixel300': pixel -3 is outside 0..255"),
        ("", "row 7 (line 9), column 'pixel300': empty or NaN value"),
        ("NaN", "row 7 (line 9), column 'pixel300'"),
        ("12.5", "row 7 (line 9), column 'pixel300': pixel 12.5 is not a whole number"),
    ],
)
def test_bad_pixel_named_by_file_row_column(digit_data, value, expected):
    _set_cell(digit_data / "train.csv", 7, "pixel300", value)
    result = kk("info", "digit-recognizer", "--data-dir", str(digit_data))
    assert result.exit_code == 1
    assert "train.csv" in result.output and expected in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_missing_file(digit_data):
    (digit_data / "test.csv").unlink()
    result = kk("info", "digit-recognizer", "--data-dir", str(digit_data))
    assert result.exit_code == 1 and "test.csv: file not found" in result.output


def test_missing_folder_hints_download(tmp_path):
    result = kk("info", "nope", "--data-dir", str(tmp_path / "nope"))
    assert result.exit_code == 1 and "competition data folder not found" in result.output
    assert "kk download" in result.output


def test_missing_label_column(digit_data):
    train = digit_data / "train.csv"
    text = train.read_text()
    train.write_text(text.replace("label,", "digit,", 1))
    result = kk("info", "digit-recognizer", "--data-dir", str(digit_data))
    assert result.exit_code == 1
    assert "train.csv" in result.output and "'digit'" in result.output


def test_ragged_row_wrong_pixel_count(digit_data):
    train = digit_data / "train.csv"
    lines = train.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0]
    train.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train.csv: row 4 \(line 6\) has 784 fields, expected 785"):
        detect_spec(digit_data)


def test_test_file_with_other_pixel_count(digit_data):
    test = digit_data / "test.csv"
    lines = test.read_text().splitlines()
    test.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    with pytest.raises(DataError, match=r"test.csv: has 783 pixel columns, expected 784"):
        detect_spec(digit_data)


def test_non_square_images(digit_data):
    for name in ("train.csv", "test.csv"):
        path = digit_data / name
        lines = path.read_text().splitlines()
        path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    with pytest.raises(DataError, match="783 pixel columns do not form a square image"):
        detect_spec(digit_data)


def test_label_not_seen_in_training(kannada_data):
    _set_cell(kannada_data / "Dig-MNIST.csv", 4, "label", "7")  # odd labels never occur in training
    result = kk("info", "Kannada-MNIST", "--data-dir", str(kannada_data))
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "Dig-MNIST.csv: row 4 (line 6), column 'label': label 7 was not seen in training" in out


def test_duplicate_test_ids(kannada_data):
    _set_cell(kannada_data / "test.csv", 9, "id", "3")
    result = kk("info", "Kannada-MNIST", "--data-dir", str(kannada_data))
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "test.csv: column 'id' has 1 duplicate id(s), e.g. '3' at rows [3, 9]" in out


def test_duplicate_ids_in_sample_submission(digit_data):
    _set_cell(digit_data / "sample_submission.csv", 2, "ImageId", "1")
    with pytest.raises(DataError, match=r"sample_submission.csv: column 'ImageId' has 1 duplicate id"):
        detect_spec(digit_data)


def test_test_rows_must_match_sample_submission(digit_data):
    test = digit_data / "test.csv"
    lines = test.read_text().splitlines()
    test.write_text("\n".join(lines[:-3]) + "\n")
    with pytest.raises(DataError, match="117 rows but sample_submission.csv has 120"):
        detect_spec(digit_data)
