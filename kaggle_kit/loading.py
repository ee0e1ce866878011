"""Fast, validated loading of pixel-CSV files into `uint8` image arrays, with a cache beside the data.

A cold read parses the CSV with pyarrow's multi-threaded reader and checks every cell (numeric, integral,
0..255, no gaps); a warm read memory-maps the `.npy` files kept in `<data_dir>/.kk-cache/` and takes
milliseconds. The cache key is the CSV's size, mtime and a hash of its first and last 64 KiB, so editing or
replacing the file invalidates it.

Example:
    >>> import tempfile
    >>> from kaggle_kit.sample_data import write_competition
    >>> store = write_competition(tempfile.mkdtemp(), n_train=100, n_test=20)
    >>> table = read_pixel_csv(store / "digit-recognizer" / "data" / "train.csv", label_column="label")
    >>> table.images.shape, table.images.dtype
    ((100, 28, 28, 1), dtype('uint8'))
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaggle_kit.errors import DataError
from kaggle_kit.io import atomic_path, atomic_write_json

CACHE_DIR = ".kk-cache"
CACHE_VERSION = 1
_PIXEL_RE = re.compile(r"^pixel(\d+)$", re.IGNORECASE)
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"PK\x03\x04")


@dataclass(frozen=True)
class PixelTable:
    """One CSV file loaded: images `(N, H, W, 1) uint8`, raw labels and ids (or None when absent)."""

    path: Path
    images: np.ndarray
    labels: np.ndarray | None
    ids: np.ndarray | None
    from_cache: bool

    def __len__(self) -> int:
        return len(self.images)

    @property
    def label_values(self) -> np.ndarray:
        """The label column, for a table read with one (reading without it and asking for labels is a bug)."""
        if self.labels is None:
            raise DataError(f"{self.path}: read without a label column")
        return self.labels

    @property
    def id_values(self) -> np.ndarray:
        """The id column, for a table read with one."""
        if self.ids is None:
            raise DataError(f"{self.path}: read without an id column")
        return self.ids


@dataclass(frozen=True)
class CsvHeader:
    """The columns of a pixel CSV, split into label, id and (ordered) pixel columns."""

    path: Path
    columns: list[str]
    label_column: str | None
    id_column: str | None
    pixel_columns: list[str]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return image_shape(len(self.pixel_columns), self.path)


def read_header_columns(path: Path) -> list[str]:
    """The header row's column names, stripped (a UTF-8 BOM dropped); clear errors for files that are no CSV."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.readline()
    if raw.startswith(_ARCHIVE_MAGIC):
        kind, tool = ("gzip", "gunzip") if raw.startswith(b"\x1f\x8b") else ("zip", "unzip")
        raise DataError(f"{path}: is a {kind} archive, not a CSV file",
                        hint=f"Unpack it first ({tool} it) and point kk at the CSV inside.")
    try:
        first = raw.decode("utf-8-sig")  # a BOM is what Excel writes; Kaggle's scorer accepts it, so do we
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: line 1 is not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None
    if not first.strip():
        raise DataError(f"{path}: file is empty (expected a header row)")
    return [c.strip() for c in next(csv.reader([first]))]


def read_header(path: Path, label_column: str | None = None, id_column: str | None = None) -> CsvHeader:
    """Read the header row and classify the columns; `label_column`/`id_column` match case-insensitively."""
    path = Path(path)
    columns = read_header_columns(path)
    lower = {c.lower(): c for c in columns}
    label = lower.get(label_column.lower()) if label_column else None
    ident = lower.get(id_column.lower()) if id_column else None
    others = [c for c in columns if c not in (label, ident)]
    numbered = [(int(m.group(1)), c) for c in others if (m := _PIXEL_RE.match(c))]
    if not numbered:
        raise DataError(f"{path}: no pixel columns (expected columns named pixel0, pixel1, ...)")
    strays = [c for c in others if not _PIXEL_RE.match(c)]
    if strays:
        raise DataError(
            f"{path}: column(s) {', '.join(repr(c) for c in strays[:5])} are neither pixels nor the "
            f"label/id column" + (f" (label column: {label_column!r})" if label_column else "")
        )
    numbered.sort()
    indices = [i for i, _ in numbered]
    repeated = sorted(c for c, n in Counter(c for _, c in numbered).items() if n > 1)
    if repeated:
        raise DataError(f"{path}: pixel column(s) {', '.join(map(repr, repeated[:5]))} appear more than once")
    if indices != list(range(len(indices))):
        missing = sorted(set(range(max(indices) + 1)) - set(indices))
        raise DataError(f"{path}: pixel columns are not numbered 0..{len(indices) - 1}; missing pixel{missing[0]}")
    return CsvHeader(path, columns, label, ident, [c for _, c in numbered])


def image_shape(n_pixels: int, path: Path | str = "") -> tuple[int, int, int]:
    """(H, W, 1) for `n_pixels` square single-channel pixels; a clear error otherwise."""
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise DataError(
            f"{path}: {n_pixels} pixel columns do not form a square image "
            f"(kk reads square, single-channel images: 28x28 = 784 pixel columns, for example)"
        )
    return (side, side, 1)


def read_pixel_csv(
    path: str | os.PathLike,
    label_column: str | None = None,
    id_column: str | None = None,
    expect_pixels: int | None = None,
    use_cache: bool = True,
) -> PixelTable:
    """Load a pixel CSV into a `PixelTable`, validating every cell; errors name file, row and column.

    `expect_pixels` checks the pixel count against another file's (test against train).
    """
    path = Path(path)
    header = read_header(path, label_column, id_column)
    if label_column and header.label_column is None:
        raise DataError(f"{path}: label column {label_column!r} not found (columns: {_preview(header.columns)})")
    if expect_pixels is not None and len(header.pixel_columns) != expect_pixels:
        raise DataError(
            f"{path}: has {len(header.pixel_columns)} pixel columns, expected {expect_pixels} like the training file"
        )
    shape = header.image_shape
    key = _cache_key(path, header)
    cache = path.parent / CACHE_DIR / path.name
    if use_cache and (hit := _read_cache(cache, key)) is not None:
        images, labels, ids = hit
        return PixelTable(path, images.reshape((-1, *shape)), labels, ids, True)
    images, labels, ids = _parse(path, header)
    if use_cache:
        _write_cache(cache, key, images, labels, ids)
    return PixelTable(path, images.reshape((-1, *shape)), labels, ids, False)


def _preview(columns: list[str], n: int = 4) -> str:
    return ", ".join(columns[:n]) + (f", ... ({len(columns)} in all)" if len(columns) > n else "")


def file_fingerprint(path: str | os.PathLike) -> str:
    """`<size>:<sha256 of the first and last 64 KiB>`: the same file on any machine, in milliseconds for any size.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "train.csv"
        >>> _ = p.write_text("label,pixel0")
        >>> file_fingerprint(p)
        '12:...'
    """
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 16))
        if size > 1 << 16:
            f.seek(max(size - (1 << 16), 1 << 16))
            h.update(f.read())
    return f"{size}:{h.hexdigest()}"


def _cache_key(path: Path, header: CsvHeader) -> dict:
    st = path.stat()
    return {
        "version": CACHE_VERSION,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "edges_sha256": file_fingerprint(path).split(":", 1)[1],
        "label_column": header.label_column,
        "id_column": header.id_column,
    }


def _read_cache(cache: Path, key: dict):
    try:
        if json.loads((cache / "key.json").read_text()) != key:
            return None
        images = np.load(cache / "images.npy", mmap_mode="r")
        labels = np.load(cache / "labels.npy", allow_pickle=False) if key["label_column"] else None
        ids = np.load(cache / "ids.npy", allow_pickle=False) if key["id_column"] else None
        return images, labels, ids
    except (OSError, ValueError):
        return None  # a missing or broken cache is only a slower load


def _write_cache(cache: Path, key: dict, images, labels, ids) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "key.json").unlink(missing_ok=True)
        for name, arr in (("images", images), ("labels", labels), ("ids", ids)):
            if arr is not None:
                with atomic_path(cache / f"{name}.npy") as tmp:
                    np.save(tmp, arr, allow_pickle=False)
        atomic_write_json(cache / "key.json", key)  # written last: its presence means the arrays are whole
    except OSError:
        pass  # read-only data folders (e.g. /kaggle/input) simply go uncached


def _parse(path: Path, header: CsvHeader):
    """Fast path: pyarrow parses pixels straight into uint8. Anything it rejects (a value out of range, text,
    a float, a gap, a ragged row) sends the file down the checking path, which finds and names the bad cell."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    read_options = pacsv.ReadOptions(block_size=1 << 24)
    try:
        table = pacsv.read_csv(
            path,
            read_options=read_options,
            convert_options=pacsv.ConvertOptions(column_types={c: pa.uint8() for c in header.pixel_columns}),
        )
    except pa.ArrowInvalid:
        table = None
    if table is None or any(table.column(c).null_count for c in header.pixel_columns):
        return _parse_checked(path, header)
    images = np.stack([table.column(c).to_numpy() for c in header.pixel_columns], axis=1)
    labels = _column_values(path, header.label_column, table.column(header.label_column)) if header.label_column else None
    ids = _column_values(path, header.id_column, table.column(header.id_column)) if header.id_column else None
    return images, labels, ids


def _parse_checked(path: Path, header: CsvHeader):
    import pyarrow as pa
    from pyarrow import csv as pacsv

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        raise _locate_parse_error(path, header, exc) from None
    if any(pa.types.is_binary(t) for t in table.schema.types):  # pyarrow keeps non-UTF-8 cells as bytes
        raise _non_utf8_line(path) or DataError(f"{path}: holds bytes that are not text")
    n = table.num_rows
    images = np.empty((n, len(header.pixel_columns)), dtype=np.uint8)
    for j, name in enumerate(header.pixel_columns):
        images[:, j] = _column_uint8(path, name, table.column(name))
    labels = _column_values(path, header.label_column, table.column(header.label_column)) if header.label_column else None
    ids = _column_values(path, header.id_column, table.column(header.id_column)) if header.id_column else None
    return images, labels, ids


def _where(path: Path, row: int, column: str) -> str:
    """`file: row R (line L), column 'c'` with R 0-based over data rows and L the 1-based line in the file."""
    return f"{path}: row {row} (line {row + 2}), column {column!r}"


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _column_uint8(path: Path, name: str, col) -> np.ndarray:
    import pyarrow as pa

    if col.null_count:
        row = _first(col.is_null().to_numpy(zero_copy_only=False))
        raise DataError(f"{_where(path, row, name)}: empty or NaN value")
    if pa.types.is_integer(col.type):
        values = col.to_numpy()
    elif pa.types.is_floating(col.type):
        values = col.to_numpy()
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = _first(bad)
            raise DataError(f"{_where(path, row, name)}: pixel {values[row].item()!r} is not a whole number in 0..255")
    else:
        text = col.to_numpy(zero_copy_only=False).astype(str)
        ok = np.char.isdigit(np.char.strip(text))
        if not ok.all():
            row = _first(~ok)
            raise DataError(f"{_where(path, row, name)}: pixel {str(text[row])!r} is not a number in 0..255")
        values = text.astype(np.int64)
    bad = (values < 0) | (values > 255)
    if bad.any():
        row = _first(bad)
        raise DataError(f"{_where(path, row, name)}: pixel {values[row].item()!r} is outside 0..255")
    return values.astype(np.uint8)


def _column_values(path: Path, name: str, col) -> np.ndarray:
    """Labels and ids: integers stay integers; anything else is kept as text."""
    import pyarrow as pa

    if pa.types.is_binary(col.type):  # pyarrow keeps non-UTF-8 cells as bytes
        raise _non_utf8_line(path) or DataError(f"{path}: column {name!r} holds bytes that are not text")

    if col.null_count:
        row = _first(col.is_null().to_numpy(zero_copy_only=False))
        raise DataError(f"{_where(path, row, name)}: empty or NaN value")
    if pa.types.is_integer(col.type):
        return col.to_numpy().astype(np.int64)
    if pa.types.is_floating(col.type):
        values = col.to_numpy()
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = _first(bad)
            raise DataError(f"{_where(path, row, name)}: {values[row].item()!r} is not a whole number")
        return values.astype(np.int64)
    return np.asarray(col.to_numpy(zero_copy_only=False).astype(str))


def _non_utf8_line(path: Path) -> DataError | None:
    with open(path, "rb") as fb:
        for line_no, raw in enumerate(fb, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return DataError(f"{path}: line {line_no} is not UTF-8 text (byte {err.start} of the line: "
                                 f"{raw[err.start:err.start + 1]!r})")
    return None


def _locate_parse_error(path: Path, header: CsvHeader, exc: Exception) -> DataError:
    """pyarrow reports ragged rows by content, not line: find the line ourselves (error path only)."""
    width = len(header.columns)
    not_text = _non_utf8_line(path)
    if not_text:
        return not_text
    with open(path, newline="", encoding="utf-8-sig") as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            if line_no > 1 and len(row) != width:
                return DataError(
                    f"{path}: row {line_no - 2} (line {line_no}) has {len(row)} fields, expected {width} "
                    f"({len(header.pixel_columns)} pixels"
                    + (f" + {header.label_column!r}" if header.label_column else "")
                    + (f" + {header.id_column!r}" if header.id_column else "")
                    + ")"
                )
    return DataError(f"{path}: could not be parsed as CSV: {exc}")
