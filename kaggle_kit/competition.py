"""The competition model: what a pixel-CSV image-classification competition looks like, read from its files.

Nothing here knows any competition by name. `detect_spec` reads the headers of the files in a competition's
data folder and works out the submission format, the training and extra labelled files, the label and id
columns, and the image shape; `Competition` then loads (and validates) the arrays and maps labels to class
indices and back.

Example:
    >>> import tempfile
    >>> from kaggle_kit.sample_data import write_competition
    >>> store = write_competition(tempfile.mkdtemp(), n_train=100, n_test=20)
    >>> comp = Competition.open(store / "digit-recognizer" / "data")
    >>> comp.spec.id_column, comp.spec.target_column, comp.spec.image_shape
    ('ImageId', 'Label', (28, 28, 1))
    >>> x, y = comp.train_arrays()       # uint8 (N, 28, 28, 1), class indices 0..K-1
    >>> x.shape, int(y.max())
    ((100, 28, 28, 1), 9)
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from kaggle_kit.errors import DataError
from kaggle_kit.loading import PixelTable, read_header, read_header_columns, read_pixel_csv

TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"
SAMPLE_SUBMISSION_NAMES = ("sample_submission.csv", "sampleSubmission.csv", "sample_submission.csv.csv")


@dataclass(frozen=True)
class CompetitionSpec:
    """Everything kk needs to know about a competition's files, detected from the files themselves."""

    slug: str
    data_dir: str
    train_file: str
    test_file: str
    sample_submission_file: str
    id_column: str
    target_column: str
    label_column: str
    test_has_ids: bool
    image_shape: tuple[int, int, int]
    classes: list = field(default_factory=list)
    train_rows: int = 0
    test_rows: int = 0
    submission_rows: int = 0
    extra_labelled: dict[str, int] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def n_pixels(self) -> int:
        h, w, c = self.image_shape
        return h * w * c

    def to_dict(self) -> dict:
        d = asdict(self)
        d["image_shape"] = list(self.image_shape)
        d["num_classes"] = self.num_classes
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CompetitionSpec:
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["image_shape"] = tuple(d["image_shape"])
        return cls(**d)

    def encode_labels(self, raw: np.ndarray, source: str = "") -> np.ndarray:
        """Map original label values to class indices 0..K-1; unknown labels are an error naming the row."""
        classes = np.asarray(self.classes)
        raw = np.asarray(raw)
        if raw.dtype.kind != classes.dtype.kind:
            raw = raw.astype(str)
            classes = classes.astype(str)
        idx = np.searchsorted(classes, raw)
        idx_clipped = np.minimum(idx, len(classes) - 1)
        bad = classes[idx_clipped] != raw
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{source or 'labels'}: row {row} (line {row + 2}), column {self.label_column!r}: label {raw[row].item()!r} "
                f"was not seen in training (classes: {_short(self.classes)}); {int(bad.sum())} such row(s)"
            )
        return idx_clipped.astype(np.int64)

    def decode_labels(self, indices: np.ndarray) -> np.ndarray:
        """Map class indices back to the competition's original label values."""
        return np.asarray(self.classes)[np.asarray(indices, dtype=np.int64)]


def _short(values: list, n: int = 12) -> str:
    text = ", ".join(map(str, values[:n]))
    return text + (f", ... ({len(values)} in all)" if len(values) > n else "")


def _find_sample_submission(data_dir: Path) -> Path:
    for name in SAMPLE_SUBMISSION_NAMES:
        if (data_dir / name).is_file():
            return data_dir / name
    candidates = sorted(p for p in data_dir.glob("*.csv") if "sample" in p.name.lower() and "sub" in p.name.lower())
    if candidates:
        return candidates[0]
    raise DataError(
        f"{data_dir}: no sample_submission.csv found",
        hint="kk reads the submission format from the competition's sample submission; download the full "
        "competition data (kk download COMPETITION).",
    )


def read_sample_submission(path: Path) -> tuple[list[str], list[str]]:
    """(header, ids as text in file order) of a sample submission."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or len(rows[0]) < 2:
        raise DataError(f"{path}: expected a header with an id column and a target column, e.g. 'ImageId,Label'")
    header = [c.strip() for c in rows[0]]
    if len(header) != 2:
        raise DataError(f"{path}: expected exactly two columns (id, target), found {len(header)}: {header}")
    ids = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise DataError(f"{path}: line {line_no} has {len(row)} fields, expected 2")
        ids.append(row[0].strip())
    return header, ids


def _check_unique(ids: list[str] | np.ndarray, source: str, column: str) -> None:
    values = np.asarray(ids).astype(str)
    uniq, first_idx, counts = np.unique(values, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1]
        rows = [int(r) for r in np.flatnonzero(np.isin(values, dup[:3]))[:6]]
        raise DataError(
            f"{source}: column {column!r} has {int((counts > 1).sum())} duplicate id(s), e.g. {str(dup[0])!r} "
            f"at rows {rows} (lines {[r + 2 for r in rows]})"
        )


# A class ten times rarer than the median class is a typo (`10`, `-1`, `seven`) rather than a class: a stray row
# would otherwise become an extra output unit and an extra "class" in every submission.
RARE_CLASS_FRACTION = 0.1


def check_label_domain(labels: np.ndarray, source: str, column: str, declared: list | None = None) -> list:
    """The class set of a training file's label column, refusing stray labels with the rows that hold them.

    With `declared` (the user's `labels = [...]` in kk.toml) every label must be one of those, however rare.
    Otherwise a label is stray when the column is mostly integers and it is not one, or when its class is
    rarer than `RARE_CLASS_FRACTION` of the median class.

    Example:
        >>> check_label_domain(np.array([0, 1, 1, 0] * 50 + [7]), "train.csv", "label")
        Traceback (most recent call last):
        ...
        kaggle_kit.errors.DataError: train.csv: column 'label' has 1 stray label(s): 7 at row 200 (line 202) ...
    """
    values = np.asarray(labels)
    if len(values) == 0:
        raise DataError(f"{source}: has a header but no rows")
    if declared is not None:
        allowed = np.asarray(declared)
        if values.dtype.kind != allowed.dtype.kind:
            values, allowed = values.astype(str), allowed.astype(str)
        stray = ~np.isin(values, allowed)
        if stray.any():
            raise _stray_error(values, stray, source, column, f"not in the declared labels {_short(list(declared))}")
        return list(declared)
    if values.dtype.kind in "US":
        numeric = np.char.isdigit(np.char.lstrip(np.char.strip(values.astype(str)), "-"))
        if numeric.mean() > 0.5 and not numeric.all():
            raise _stray_error(values, ~numeric, source, column, "not integers like the other labels")
    classes, counts = np.unique(values, return_counts=True)
    rare = counts < RARE_CLASS_FRACTION * np.median(counts)
    if rare.any():
        raise _stray_error(values, np.isin(values, classes[rare]), source, column,
                           f"each in under {RARE_CLASS_FRACTION:.0%} as many rows as the median class")
    return classes.tolist()


def _stray_error(values: np.ndarray, stray: np.ndarray, source: str, column: str, why: str) -> DataError:
    rows = np.flatnonzero(stray)
    shown = ", ".join(f"{values[r].item()!r} at row {r} (line {r + 2})" for r in rows[:3])
    return DataError(
        f"{source}: column {column!r} has {len(rows)} stray label(s): {shown}{' ...' if len(rows) > 3 else ''} "
        f"({why})",
        hint="Fix those rows, or, if they are real classes, declare every label in kk.toml: labels = [0, 1, ...]",
    )


def detect_spec(data_dir: str | Path, slug: str | None = None, load: bool = True,
                labels: list | None = None) -> CompetitionSpec:
    """Detect a competition's spec from the files in `data_dir`.

    With `load=True` (what `kk info` does) every file is loaded and validated, which also warms the cache;
    the class set and row counts then come from the data (stray labels are refused: `check_label_domain`;
    `labels` is the user's declared label set, which replaces that guess). With `load=False` only headers are
    read and `classes`/row counts are left empty.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(
            f"{data_dir}: competition data folder not found",
            hint="Download it first (kk download COMPETITION) or point --data-dir at the folder holding train.csv.",
        )
    sample = _find_sample_submission(data_dir)
    sub_header, sub_ids = read_sample_submission(sample)
    id_column, target_column = sub_header
    train_path = data_dir / TRAIN_FILE
    if not train_path.is_file():
        raise DataError(f"{train_path}: file not found (the competition's labelled training data)")
    columns = {c.lower() for c in read_header_columns(train_path)}
    candidate = next((c for c in (target_column, "label") if c.lower() in columns), None)
    if candidate is None:
        others = [c for c in read_header_columns(train_path) if not c.lower().startswith("pixel")]
        raise DataError(
            f"{train_path}: no label column: expected {target_column!r} (the sample submission's target column, "
            f"any case) or 'label'" + (f"; found {', '.join(map(repr, others[:4]))}" if others else "")
        )
    train_header = read_header(train_path, label_column=candidate)
    label_column = train_header.label_column or candidate  # the file's own spelling of it
    test_path = data_dir / TEST_FILE
    test_header = read_header(test_path, id_column=id_column)
    test_has_ids = test_header.id_column is not None
    shape = train_header.image_shape
    if len(test_header.pixel_columns) != len(train_header.pixel_columns):
        raise DataError(
            f"{test_path}: has {len(test_header.pixel_columns)} pixel columns, "
            f"expected {len(train_header.pixel_columns)} like {train_path.name}"
        )
    _check_unique(sub_ids, str(sample), id_column)

    extras = {}
    for path in sorted(data_dir.glob("*.csv")):
        if path in (train_path, test_path, sample):
            continue
        try:
            h = read_header(path, label_column=label_column)
        except DataError:
            continue  # not a pixel file of this competition (e.g. a solution or a notes table)
        if h.label_column and len(h.pixel_columns) == len(train_header.pixel_columns):
            extras[path.name] = 0

    spec = CompetitionSpec(
        slug=slug or data_dir.name,
        data_dir=str(data_dir),
        train_file=train_path.name,
        test_file=test_path.name,
        sample_submission_file=sample.name,
        id_column=id_column,
        target_column=target_column,
        label_column=label_column,
        test_has_ids=test_has_ids,
        image_shape=shape,
        submission_rows=len(sub_ids),
        extra_labelled=extras,
    )
    if not load:
        return spec

    train = read_pixel_csv(train_path, label_column=label_column)
    classes = check_label_domain(train.label_values, str(train_path), label_column, declared=labels)
    if len(classes) < 2:
        raise DataError(f"{train_path}: column {label_column!r} has {len(classes)} distinct label(s); need at least 2")
    test = read_pixel_csv(test_path, id_column=id_column if test_has_ids else None, expect_pixels=spec.n_pixels)
    if test_has_ids:
        _check_unique(test.id_values, str(test_path), id_column)
        missing = set(np.asarray(sub_ids)) - set(test.id_values.astype(str))
        if missing or len(test) != len(sub_ids):
            raise DataError(
                f"{test_path}: ids in column {id_column!r} do not match {sample.name} "
                f"({len(test)} test rows, {len(sub_ids)} submission rows; e.g. {sorted(missing)[:3]} missing)"
            )
    elif len(test) != len(sub_ids):
        raise DataError(
            f"{test_path}: {len(test)} rows but {sample.name} has {len(sub_ids)}; without an id column in the test "
            f"file, ids are taken from the sample submission in order, so the counts must match"
        )
    spec = CompetitionSpec(**{**asdict(spec), "image_shape": shape, "classes": classes,
                              "train_rows": len(train), "test_rows": len(test)})
    for name in extras:
        table = read_pixel_csv(data_dir / name, label_column=label_column, expect_pixels=spec.n_pixels)
        spec.encode_labels(table.label_values, source=str(data_dir / name))
        spec.extra_labelled[name] = len(table)
    return spec


class Competition:
    """A competition's data folder: its spec and its arrays, loaded lazily through the cache."""

    def __init__(self, spec: CompetitionSpec):
        self.spec = spec
        self.data_dir = Path(spec.data_dir)

    @classmethod
    def open(cls, data_dir: str | Path, slug: str | None = None, labels: list | None = None) -> Competition:
        return cls(detect_spec(data_dir, slug=slug, load=True, labels=labels))

    @cached_property
    def train(self) -> PixelTable:
        return read_pixel_csv(self.data_dir / self.spec.train_file, label_column=self.spec.label_column)

    @cached_property
    def test(self) -> PixelTable:
        id_col = self.spec.id_column if self.spec.test_has_ids else None
        return read_pixel_csv(self.data_dir / self.spec.test_file, id_column=id_col, expect_pixels=self.spec.n_pixels)

    def extra(self, name: str) -> PixelTable:
        if name not in self.spec.extra_labelled:
            raise DataError(
                f"{self.data_dir}: {name!r} is not an extra labelled file of this competition "
                f"(found: {', '.join(self.spec.extra_labelled) or 'none'})"
            )
        return read_pixel_csv(self.data_dir / name, label_column=self.spec.label_column, expect_pixels=self.spec.n_pixels)

    def train_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Training images `(N, H, W, 1) uint8` and class indices `(N,) int64`."""
        t = self.train
        return t.images, self.spec.encode_labels(t.label_values, source=str(t.path))

    def extra_arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        t = self.extra(name)
        return t.images, self.spec.encode_labels(t.label_values, source=str(t.path))

    def test_images(self) -> np.ndarray:
        return self.test.images

    def submission_ids(self) -> list[str]:
        """Ids in the order the sample submission lists them (the order every submission must follow)."""
        return read_sample_submission(self.data_dir / self.spec.sample_submission_file)[1]

    def test_ids(self) -> list[str]:
        """The id of each test row, in test-file order."""
        if self.spec.test_has_ids:
            return [str(i) for i in self.test.id_values]
        return self.submission_ids()
