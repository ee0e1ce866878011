"""The load cache: a hit is fast and identical; any change to the CSV invalidates it."""

from __future__ import annotations

import os

import numpy as np

from kaggle_kit.loading import read_pixel_csv


def test_cache_hit_returns_identical_arrays(digit_data):
    path = digit_data / "train.csv"
    cold = read_pixel_csv(path, label_column="label")
    warm = read_pixel_csv(path, label_column="label")
    assert not cold.from_cache and warm.from_cache
    np.testing.assert_array_equal(cold.images, warm.images)
    np.testing.assert_array_equal(cold.labels, warm.labels)
    assert warm.images.dtype == np.uint8 and warm.images.shape == (400, 28, 28, 1)


def test_cache_invalidated_when_csv_changes(digit_data):
    path = digit_data / "train.csv"
    read_pixel_csv(path, label_column="label")
    lines = path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[1] = "201"
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    changed = read_pixel_csv(path, label_column="label")
    assert not changed.from_cache and changed.images[0, 0, 0, 0] == 201


def test_cache_invalidated_by_same_size_edit_with_same_mtime(digit_data):
    path = digit_data / "train.csv"
    first = read_pixel_csv(path, label_column="label")
    lines = path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[0] = "9" if cells[0] != "9" else "8"  # one character for one: the size does not change
    lines[1] = ",".join(cells)
    stat = path.stat()
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    second = read_pixel_csv(path, label_column="label")
    assert not second.from_cache
    assert second.labels[0] == int(cells[0]) != first.labels[0]


def test_corrupt_cache_is_rebuilt(digit_data):
    path = digit_data / "train.csv"
    read_pixel_csv(path, label_column="label")
    (digit_data / ".kk-cache" / "train.csv" / "images.npy").write_bytes(b"garbage")
    again = read_pixel_csv(path, label_column="label")
    assert again.images.shape == (400, 28, 28, 1)
