r"""Scoring a submission file against a competition's hidden solution (no HTTP, no state).

A file is scored when its submission is created: the metric over the solution's Public rows gives the public
score, over its Private rows the private score. A malformed file raises `SubmissionInvalid`, whose message (the
submission's `errorDescription`) names the line and column at fault, as Kaggle's does.

Example:
    >>> solution = Solution("ImageId", "Label", {"1": ("7", "Public"), "2": ("3", "Private")})
    >>> score_submission(solution, get_metric("categorizationaccuracy"), b"ImageId,Label\n1,7\n2,5\n", "sub.csv")
    (1.0, 0.0)
    >>> score_submission(solution, get_metric("categorizationaccuracy"), b"ImageId,Label\n1,7\n", "sub.csv")
    Traceback (most recent call last):
    ...
    kaggle_kit.emulator.scoring.SubmissionInvalid: sub.csv: 1 of 2 ImageId values are missing (2); expected 2 rows, found 1
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kaggle_kit.emulator.metrics import Metric, get_metric

__all__ = ["Solution", "SubmissionInvalid", "format_score", "get_metric", "score_submission"]


class SubmissionInvalid(Exception):
    """A submission file that cannot be scored; its message becomes the submission's `errorDescription`."""


@dataclass
class Solution:
    """The hidden answers: for each (normalised) id, its label and its board (Public/Private).

    `id_column` and `label_column` are the competition's: a submission must have exactly these two columns.
    """

    id_column: str
    label_column: str
    rows: dict[str, tuple[str, str]]

    @classmethod
    def read(cls, path: str | Path, id_column: str, label_column: str) -> Solution:
        """`solution.csv`: `<id column>,<label column>,Usage` (Usage: Public / Private; missing: Public)."""
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = {_norm_id(r[id_column]): (r[label_column].strip(), r.get("Usage", "Public").strip())
                    for r in reader}
        return cls(id_column, label_column, rows)


def _norm_id(value: str) -> str:
    text = value.strip()
    try:
        return str(int(text))
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            return text
        return str(int(as_float)) if as_float.is_integer() else text


def format_score(score: float | None) -> str | None:
    """Kaggle shows scores with five decimals, as strings.

    Example:
        >>> format_score(0.75), format_score(None)
        ('0.75000', None)
    """
    return None if score is None else f"{score:.5f}"


def _decode_submission(data: bytes, file_name: str) -> str:
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise SubmissionInvalid(f"{file_name}: a zipped submission must hold exactly one CSV file, "
                                            f"found {len(members)}")
                data = zf.read(members[0])
        except zipfile.BadZipFile:
            raise SubmissionInvalid(f"{file_name}: looks like a zip archive but cannot be opened") from None
    elif data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except OSError:
            raise SubmissionInvalid(f"{file_name}: looks gzip-compressed but cannot be decompressed") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionInvalid(f"{file_name}: not UTF-8 CSV text (bad byte at offset {exc.start})") from None


def score_submission(solution: Solution, metric: Metric, data: bytes,
                     file_name: str) -> tuple[float | None, float | None]:
    """`(public score, private score)` of a submission file (CSV, or one CSV zipped or gzipped).

    Raises `SubmissionInvalid` naming the line and column at fault; a board without rows scores None.
    """
    id_column, label_column = solution.id_column, solution.label_column
    text = _decode_submission(data, file_name)
    if not text.strip():
        raise SubmissionInvalid(f"{file_name}: the file is empty")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader)]
    expected = f"{id_column},{label_column}"
    for col in (id_column, label_column):
        if col not in header:
            raise SubmissionInvalid(f"{file_name}: required column {col!r} not found in header "
                                    f"{','.join(header)!r}; expected {expected!r}")
    extra = [h for h in header if h not in (id_column, label_column)]
    if extra:
        raise SubmissionInvalid(f"{file_name}: unexpected column {extra[0]!r} in header {','.join(header)!r}; "
                                f"expected exactly {expected!r}")
    id_at, label_at = header.index(id_column), header.index(label_column)
    predicted: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise SubmissionInvalid(f"{file_name} line {line_no}: expected {len(header)} values, found {len(row)}")
        key = _norm_id(row[id_at])
        if key not in solution.rows:
            raise SubmissionInvalid(f"{file_name} line {line_no}: {id_column} {row[id_at].strip()!r} "
                                    "is not in the test set")
        if key in predicted:
            raise SubmissionInvalid(f"{file_name} line {line_no}: {id_column} {row[id_at].strip()!r} appears "
                                    f"twice (first on line {first_line[key]})")
        label = row[label_at].strip()
        if not label:
            raise SubmissionInvalid(f"{file_name} line {line_no}: empty {label_column} for "
                                    f"{id_column} {row[id_at].strip()!r}")
        predicted[key] = label
        first_line[key] = line_no
    missing = [k for k in solution.rows if k not in predicted]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise SubmissionInvalid(f"{file_name}: {len(missing)} of {len(solution.rows)} {id_column} values are "
                                f"missing ({shown}); expected {len(solution.rows)} rows, found {len(predicted)}")
    boards: dict[str, tuple[list[str], list[str]]] = {"public": ([], []), "private": ([], [])}
    for key, (truth, usage) in solution.rows.items():
        board = boards.get(usage.lower())
        if board is not None:
            board[0].append(truth)
            board[1].append(predicted[key])
    public, private = (metric.score(*boards[b]) if boards[b][0] else None for b in ("public", "private"))
    return public, private
