"""Bad input through the real commands: every case exits non-zero with a message naming the file and what is wrong
(no traceback), or is accepted because Kaggle's scorer accepts it too, with the right result.

Each case starts from a small, valid competition folder and breaks one thing: a cell, a row, a header, an encoding,
a whole file. The commands are `kk info` (reads and validates every competition file) and `kk validate-submission`
(a submission against the competition's format); kk.toml cases go through `kk info` as well.
"""

from __future__ import annotations

import gzip
import io
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kaggle_kit.cli import app

# --- editing CSV text ----------------------------------------------------------------------------------------


def _rows(text: str) -> list[list[str]]:
    return [line.split(",") for line in text.rstrip("\n").split("\n")]


def _text(rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in rows) + "\n"


def set_cell(row: int, column: str, value: str) -> Callable[[str], str]:
    """Data row `row` (0-based; -1 = last) of `column` set to `value`."""
    def edit(text: str) -> str:
        rows = _rows(text)
        rows[1:][row][rows[0].index(column)] = value
        return _text(rows)
    return edit


def ragged(row: int, extra: bool) -> Callable[[str], str]:
    def edit(text: str) -> str:
        rows = _rows(text)
        r = rows[1:][row]
        r.append("0") if extra else r.pop()
        return _text(rows)
    return edit


def rename_column(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        rows = _rows(text)
        rows[0][rows[0].index(old)] = new
        return _text(rows)
    return edit


def drop_column(column: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        rows = _rows(text)
        j = rows[0].index(column)
        return _text([r[:j] + r[j + 1:] for r in rows])
    return edit


def add_column(name: str, value: str = "0") -> Callable[[str], str]:
    def edit(text: str) -> str:
        rows = _rows(text)
        return _text([rows[0] + [name]] + [r + [value] for r in rows[1:]])
    return edit


def keep_rows(n: int) -> Callable[[str], str]:
    def edit(text: str) -> str:
        return _text(_rows(text)[: n + 1])
    return edit


def swap_rows(a: int, b: int) -> Callable[[str], str]:
    def edit(text: str) -> str:
        rows = _rows(text)
        rows[a + 1], rows[b + 1] = rows[b + 1], rows[a + 1]
        return _text(rows)
    return edit


def duplicate_row(src: int, dst: int) -> Callable[[str], str]:
    def edit(text: str) -> str:
        rows = _rows(text)
        rows[dst + 1] = list(rows[src + 1])
        return _text(rows)
    return edit


def _bytes(edit: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    edit.binary = True  # type: ignore[attr-defined]
    return edit


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


def zipped(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("train.csv", data)
    return buf.getvalue()


def latin1_cell(row: int) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        lines = data.split(b"\n")
        lines[row + 1] = lines[row + 1].replace(b",0,", b",\xe9,", 1)
        return b"\n".join(lines)
    return edit


def latin1_header(data: bytes) -> bytes:
    return data.replace(b"pixel1,", b"pix\xe9l1,", 1)


def bom(data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def no_final_newline(data: bytes) -> bytes:
    return data.rstrip(b"\n")


def nul_bytes(data: bytes) -> bytes:
    return b"\x00" * 64 + data


def empty(data: bytes) -> bytes:
    return b""


def only_header(data: bytes) -> bytes:
    return data.split(b"\n", 1)[0] + b"\n"


for _f in (gzipped, zipped, latin1_header, bom, crlf, no_final_newline, nul_bytes, empty, only_header):
    _bytes(_f)


# --- the cases ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # the file the case edits (or creates), relative to the data folder; "kk.toml" in the project
    edit: Callable | None  # text -> text, or bytes -> bytes (`.binary`); None deletes the file
    expect: str | None  # a fragment of the error message; None = accepted
    layout: str = "digit-recognizer"
    row: int | None = None  # the data row the message must name


def _cell_cases(file: str, layout: str, first: str, middle: str, last: str) -> list[Case]:
    out = []
    values = {"256": "outside 0..255", "-1": "outside 0..255", "3.5": "whole number", "abc": "not a number",
              "": "empty or NaN", "nan": "empty or NaN", "1e9": "outside 0..255"}
    for value, expect in values.items():
        for name, row, col in (("first", 0, first), ("middle", 57, middle), ("last", -1, last)):
            out.append(Case(f"{file}-pixel-{value or 'blank'}-{name}", file, set_cell(row, col, value), expect,
                            layout, row=row))
    return out


def _ragged_cases(file: str, layout: str) -> list[Case]:
    return [Case(f"{file}-ragged-{'extra' if extra else 'short'}-{row}", file, ragged(row, extra), "fields",
                 layout, row=row) for row in (0, 57, -1) for extra in (True, False)]


def _file_cases(file: str, layout: str) -> list[Case]:
    return [
        Case(f"{file}-gzip", file, gzipped, "gzip archive", layout),
        Case(f"{file}-zip", file, zipped, "zip archive", layout),
        Case(f"{file}-latin1-cell", file, _bytes(latin1_cell(3)), "not UTF-8", layout),
        Case(f"{file}-latin1-header", file, latin1_header, "not UTF-8", layout),
        Case(f"{file}-nul-bytes", file, nul_bytes, file, layout),
        Case(f"{file}-empty", file, empty, "empty", layout),
        Case(f"{file}-missing", file, None, "not found", layout),
        Case(f"{file}-bom", file, bom, None, layout),
        Case(f"{file}-crlf", file, crlf, None, layout),
        Case(f"{file}-no-final-newline", file, no_final_newline, None, layout),
        Case(f"{file}-pixel-gap", file, rename_column("pixel5", "pixel900"), "missing pixel5", layout),
        Case(f"{file}-not-square", file, drop_column("pixel783"), "pixel columns", layout),
        Case(f"{file}-stray-column", file, add_column("notes"), "'notes'", layout),
    ]


TRAIN = "train.csv"
TEST = "test.csv"
SAMPLE = "sample_submission.csv"

CASES: list[Case] = [
    *_cell_cases(TRAIN, "digit-recognizer", "pixel0", "pixel400", "pixel783"),
    *_ragged_cases(TRAIN, "digit-recognizer"),
    *_file_cases(TRAIN, "digit-recognizer"),
    Case("train-only-header", TRAIN, only_header, "no rows", row=None),
    Case("train-no-label-column", TRAIN, rename_column("label", "digit"), "no label column"),
    Case("train-label-stray-10", TRAIN, set_cell(6, "label", "10"), "stray label", row=6),
    Case("train-label-stray-negative", TRAIN, set_cell(9, "label", "-1"), "stray label", row=9),
    Case("train-label-stray-word", TRAIN, set_cell(11, "label", "seven"), "stray label", row=11),
    Case("train-label-blank", TRAIN, set_cell(12, "label", ""), "empty or NaN", row=12),
    Case("train-label-float", TRAIN, set_cell(13, "label", "3.5"), "whole number", row=13),
    Case("train-label-nan", TRAIN, set_cell(14, "label", "nan"), "empty or NaN", row=14),
    Case("train-label-whole-float", TRAIN, set_cell(15, "label", "3.0"), None),
    Case("train-one-class", TRAIN, lambda t: _text([r[:1] + r[1:] if i == 0 else ["1", *r[1:]]
                                                    for i, r in enumerate(_rows(t))]), "distinct label"),
    *_cell_cases(TEST, "digit-recognizer", "pixel0", "pixel400", "pixel783"),
    *_ragged_cases(TEST, "digit-recognizer"),
    *_file_cases(TEST, "digit-recognizer"),
    Case("test-fewer-rows-than-sample", TEST, keep_rows(100), "rows but"),
    Case("test-pixel-count-differs", TEST, drop_column("pixel783"), "pixel columns"),
    Case("test-duplicate-column", TEST, add_column("pixel64"), "pixel64"),
    Case("train-duplicate-column", TRAIN, add_column("pixel64"), "pixel64"),
    Case("kannada-test-duplicate-id", TEST, duplicate_row(3, 4), "duplicate", layout="kannada"),
    Case("kannada-test-id-blank", TEST, set_cell(5, "id", ""), "empty or NaN", layout="kannada", row=5),
    Case("kannada-test-id-unknown", TEST, set_cell(5, "id", "99999"), "do not match", layout="kannada"),
    Case("kannada-test-rows-shuffled", TEST, swap_rows(2, 7), None, layout="kannada"),
    Case("sample-missing", SAMPLE, None, "sample submission"),
    Case("sample-empty", SAMPLE, empty, SAMPLE),
    Case("sample-one-column", SAMPLE, drop_column("Label"), SAMPLE),
    Case("sample-duplicate-id", SAMPLE, duplicate_row(1, 2), "duplicate"),
    Case("sample-crlf", SAMPLE, crlf, None),
    Case("sample-bom", SAMPLE, bom, None),
    Case("kk-toml-not-toml", "kk.toml", lambda t: "competition = \n[[", "not valid TOML"),
    Case("kk-toml-latin1", "kk.toml", _bytes(lambda b: b"competition = \"d\xe9git\"\n"), "kk.toml"),
    Case("kk-toml-unknown-key", "kk.toml", lambda t: t + "colour = \"blue\"\n", "colour"),
    Case("kk-toml-labels-wrong-type", "kk.toml", lambda t: t + "labels = \"0-9\"\n", "labels"),
    Case("kk-toml-labels-declared-too-few", "kk.toml", lambda t: t + "labels = [0, 1, 2]\n", "declared labels"),
    Case("kk-toml-labels-declare-stray", "kk.toml", lambda t: t + "labels = [0,1,2,3,4,5,6,7,8,9,10]\n", None),
]

# kk.toml-declared labels make a rare class legitimate: the train.csv carries a stray 10 in that case.
_DECLARED_STRAY = {"kk-toml-labels-declare-stray"}


def _apply(path: Path, case: Case) -> None:
    if case.edit is None:
        path.unlink()
    elif getattr(case.edit, "binary", False):
        path.write_bytes(case.edit(path.read_bytes()))
    else:
        path.write_text(case.edit(path.read_text()))


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    from kaggle_kit.sample_data import write_competition

    root = tmp_path_factory.mktemp("bad-input-stores")
    return {
        "digit-recognizer": write_competition(root / "d", layout="digit-recognizer", n_train=240, n_test=120)
        / "digit-recognizer" / "data",
        "kannada": write_competition(root / "k", layout="kannada", n_train=240, n_test=120) / "Kannada-MNIST" / "data",
    }


def _run(args: list[str]):
    result = CliRunner().invoke(app, args, catch_exceptions=True)
    return result, result.output


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_competition_files(case: Case, stores, tmp_path, monkeypatch):
    slug = "digit-recognizer" if case.layout == "digit-recognizer" else "Kannada-MNIST"
    data = Path(shutil.copytree(stores[case.layout], tmp_path / "datasets" / slug))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kk.toml").write_text(f'competition = "{slug}"\n')
    if case.id in _DECLARED_STRAY:
        _apply(data / TRAIN, Case("", TRAIN, set_cell(6, "label", "10"), None))
    target = tmp_path / "kk.toml" if case.file == "kk.toml" else data / case.file
    _apply(target, case)

    result, out = _run(["info", "--json"])

    assert "Traceback" not in out and not (result.exception and not isinstance(result.exception, SystemExit)), \
        f"{case.id}: crashed: {result.exception!r}\n{out}"
    if case.expect is None:
        assert result.exit_code == 0, f"{case.id}: should be accepted (Kaggle accepts it), got:\n{out}"
        spec = __import__("json").loads(out.strip().splitlines()[-1])
        assert spec["train_rows"] == 240 and spec["test_rows"] == 120
        assert spec["num_classes"] == (11 if case.id in _DECLARED_STRAY else 10)
        return
    assert result.exit_code != 0, f"{case.id}: accepted although broken:\n{out}"
    assert case.file in out, f"{case.id}: the message does not name {case.file}:\n{out}"
    assert case.expect.lower() in out.lower(), f"{case.id}: expected {case.expect!r} in:\n{out}"
    if case.row is not None:
        n = 240 if case.file == TRAIN else 120
        row = case.row % n
        assert f"row {row} (line {row + 2})" in out, f"{case.id}: the message does not name row {row}:\n{out}"


# --- submissions ----------------------------------------------------------------------------------------------


def _good_submission(data: Path) -> str:
    lines = (data / SAMPLE).read_text().splitlines()
    return "\n".join([lines[0]] + [f"{line.split(',')[0]},{i % 10}" for i, line in enumerate(lines[1:])]) + "\n"


SUBMISSION_CASES: list[Case] = [
    Case("sub-missing", "submission.csv", None, "not found"),
    Case("sub-empty", "submission.csv", empty, "empty"),
    Case("sub-gzip", "submission.csv", gzipped, "submission.csv"),
    Case("sub-latin1", "submission.csv", _bytes(lambda b: b.replace(b"\n1,", b"\n\xe9,", 1)), "submission.csv"),
    Case("sub-header-wrong", "submission.csv", rename_column("Label", "Prediction"), "header"),
    Case("sub-header-only", "submission.csv", only_header, "rows, expected"),
    Case("sub-too-few-rows", "submission.csv", keep_rows(100), "rows, expected"),
    Case("sub-too-many-rows", "submission.csv", lambda t: t + "121,3\n", "rows, expected"),
    Case("sub-duplicate-id", "submission.csv", duplicate_row(3, 4), "duplicate", row=4),
    Case("sub-unknown-id", "submission.csv", set_cell(5, "ImageId", "9999"), "not in the test set", row=5),
    Case("sub-label-blank", "submission.csv", set_cell(6, "Label", ""), "empty or NaN", row=6),
    Case("sub-label-nan", "submission.csv", set_cell(7, "Label", "NaN"), "empty or NaN", row=7),
    Case("sub-label-unknown", "submission.csv", set_cell(8, "Label", "10"), "outside the class set", row=8),
    Case("sub-label-word", "submission.csv", set_cell(9, "Label", "seven"), "outside the class set", row=9),
    Case("sub-ragged", "submission.csv", ragged(10, True), "number of fields", row=10),
    Case("sub-crlf", "submission.csv", crlf, None),
    Case("sub-no-final-newline", "submission.csv", no_final_newline, None),
    Case("sub-trailing-blank-line", "submission.csv", lambda t: t + "\n", None),
    Case("sub-spaces", "submission.csv", lambda t: t.replace(",", ", "), None),
]


@pytest.mark.parametrize("case", SUBMISSION_CASES, ids=[c.id for c in SUBMISSION_CASES])
def test_submission_files(case: Case, stores, tmp_path, monkeypatch):
    data = Path(shutil.copytree(stores["digit-recognizer"], tmp_path / "datasets" / "digit-recognizer"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kk.toml").write_text('competition = "digit-recognizer"\n')
    sub = tmp_path / "submission.csv"
    sub.write_text(_good_submission(data))
    _apply(sub, case)

    result, out = _run(["validate-submission", str(sub)])

    assert "Traceback" not in out and not (result.exception and not isinstance(result.exception, SystemExit)), \
        f"{case.id}: crashed: {result.exception!r}\n{out}"
    if case.expect is None:
        assert result.exit_code == 0 and "valid" in out, f"{case.id}: should be accepted, got:\n{out}"
        return
    assert result.exit_code != 0, f"{case.id}: accepted although broken:\n{out}"
    assert "submission.csv" in out, f"{case.id}: the message does not name the file:\n{out}"
    assert case.expect.lower() in out.lower(), f"{case.id}: expected {case.expect!r} in:\n{out}"
    if case.row is not None:
        assert f"row {case.row} (line {case.row + 2})" in out, f"{case.id}: row {case.row} not named:\n{out}"



@pytest.mark.parametrize("dataset", ["../x", "me/../../x", "/abs/x", "me/x/y", "me/", "me/.hidden"])
def test_upload_weights_dataset_names_cannot_leave_datasets(dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAGGLE_USERNAME", "me")
    monkeypatch.setenv("KAGGLE_KEY", "not-a-real-key")
    monkeypatch.setenv("KK_KAGGLE_URL", "http://127.0.0.1:9")  # nothing may be sent: the name is refused first
    result, out = _run(["upload-weights", str(tmp_path / "no-run"), "--dataset", dataset])
    assert result.exit_code != 0 and "Traceback" not in out
    assert "--dataset" in out and "OWNER/SLUG" in out, out
    assert not (tmp_path.parent / "x").exists()
