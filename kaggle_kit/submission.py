"""Writing and validating `submission.csv` in a competition's exact format.

The format comes from the sample submission: its header, its id column and its id order. Predictions are
class indices (what models output) and are mapped back to the competition's original label values.

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> from kaggle_kit.sample_data import write_competition
    >>> store = write_competition(tempfile.mkdtemp(), n_train=100, n_test=20)
    >>> comp = Competition.open(store / "digit-recognizer" / "data")
    >>> path = write_submission(comp, np.zeros(20, dtype=int), Path(tempfile.mkdtemp()) / "submission.csv")
    >>> validate_submission(path, comp.spec).rows
    20
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaggle_kit.competition import Competition, CompetitionSpec, read_sample_submission
from kaggle_kit.errors import SubmissionError
from kaggle_kit.io import atomic_write_text


def write_submission(competition: Competition, predicted: np.ndarray, path: str | Path) -> Path:
    """Write class-index predictions for every test row (in test-file order) as the competition's submission.

    Returns the path written (atomically). The result is validated before it is returned.
    """
    spec = competition.spec
    predicted = np.asarray(predicted)
    test_ids = competition.test_ids()
    if len(predicted) != len(test_ids):
        raise SubmissionError(f"{len(predicted)} predictions for {len(test_ids)} test rows")
    labels = spec.decode_labels(predicted)
    by_id = dict(zip(test_ids, labels.tolist()))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spec.id_column, spec.target_column])
    for sid in competition.submission_ids():
        writer.writerow([sid, by_id[sid]])
    path = atomic_write_text(path, out.getvalue())
    validate_submission(path, spec)
    return path


@dataclass(frozen=True)
class SubmissionCheck:
    """What a valid submission contains."""

    path: Path
    rows: int
    label_counts: dict


def _problem(path: Path, what: str, rows: list[int], lines: list[str] | None = None) -> SubmissionError:
    shown = ", ".join(f"row {r} (line {r + 2})" + (f": {lines[i]!r}" if lines else "") for i, r in enumerate(rows[:5]))
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return SubmissionError(f"{path}: {what}" + (f" at {shown}{more}" if rows else ""))


def validate_submission(path: str | Path, spec: CompetitionSpec) -> SubmissionCheck:
    """Check a submission file against the competition spec; raise `SubmissionError` on the first problem class.

    Checks, in order: readable, header, NaN/empty cells, duplicate ids, row count, id set, label domain. Rows may
    come in any order and a UTF-8 BOM is fine: Kaggle's scorer matches rows by id and accepts both.
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: file not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a BOM is what Excel writes; Kaggle accepts it
            rows = [r for r in csv.reader(f)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SubmissionError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise SubmissionError(f"{path}: file is empty")
    expected_header = [spec.id_column, spec.target_column]
    header = [c.strip() for c in rows[0]]
    if header != expected_header:
        raise SubmissionError(f"{path}: header is {','.join(header)!r}, expected {','.join(expected_header)!r}")
    body = rows[1:]
    while body and not any(c.strip() for c in body[-1]):
        body.pop()  # a trailing blank line is harmless
    ragged = [i for i, r in enumerate(body) if len(r) != 2]
    if ragged:
        raise _problem(path, "wrong number of fields (expected 2)", ragged, [",".join(body[i]) for i in ragged[:5]])
    ids = [r[0].strip() for r in body]
    labels = [r[1].strip() for r in body]
    nan_words = {"", "nan", "NaN", "NA", "null", "None"}
    empty = [i for i, (a, b) in enumerate(zip(ids, labels)) if a in nan_words or b in nan_words]
    if empty:
        raise _problem(path, "empty or NaN value", empty, [",".join(body[i]) for i in empty[:5]])
    seen: dict[str, int] = {}
    dups = []
    for i, sid in enumerate(ids):
        if sid in seen:
            dups.append(i)
        seen.setdefault(sid, i)
    if dups:
        raise _problem(path, f"duplicate {spec.id_column}", dups, [ids[i] for i in dups[:5]])
    sample_ids = read_sample_submission(Path(spec.data_dir) / spec.sample_submission_file)[1]
    if len(ids) != len(sample_ids):
        raise SubmissionError(f"{path}: {len(ids)} rows, expected {len(sample_ids)} (one per test image)")
    expected = set(sample_ids)
    unknown = [i for i, sid in enumerate(ids) if sid not in expected]
    if unknown:
        raise _problem(path, f"{spec.id_column} not in the test set", unknown, [ids[i] for i in unknown[:5]])
    domain = {str(c) for c in spec.classes}
    outside = [i for i, lab in enumerate(labels) if lab not in domain]
    if outside:
        raise _problem(
            path,
            f"{spec.target_column} outside the class set {sorted(domain)[:12]}",
            outside,
            [labels[i] for i in outside[:5]],
        )
    counts: dict[str, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    return SubmissionCheck(path=path, rows=len(ids), label_counts=dict(sorted(counts.items())))
