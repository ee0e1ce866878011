"""`kk download` verifies what it fetched and notices server-side changes (real `kk` subprocess, real client).

This module serves its own copy of the store (the `store` fixture is overridden here), because it edits the
competition's files on the "server" between runs.
"""

from __future__ import annotations

import os
import zipfile

import pytest
from kk_kaggle_helpers import SLUG, run_kk

from kaggle_kit.kaggle.download import MARKER
from kaggle_kit.kaggle.transfer import STAGING_PREFIX
from kaggle_kit.sample_data import write_competition


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_competition(tmp_path_factory.mktemp("verify-store"), layout="digit-recognizer", n_train=120,
                             n_test=40)


def _touch_later(path, seconds: int = 120) -> None:
    st = path.stat()
    os.utime(path, (st.st_atime + seconds, st.st_mtime + seconds))


def _edit_label(path, new_label: str) -> None:
    """Rewrite the first training row's label (same file size when the label has the same width)."""
    lines = path.read_text().splitlines(keepends=True)
    label, rest = lines[1].split(",", 1)
    lines[1] = f"{new_label},{rest}"
    path.write_text("".join(lines))


def test_a_file_changed_on_the_server_is_downloaded_again(kk_env, store):
    served = store / SLUG / "data" / "train.csv"
    local = kk_env.project / "datasets" / SLUG / "train.csv"
    first = run_kk(kk_env, "download", SLUG)
    assert first.returncode == 0, first.stderr
    assert local.read_bytes() == served.read_bytes()
    assert "up to date" in run_kk(kk_env, "download", SLUG).stdout

    # same size, new content and date on the server: the listing changed, so the copy is stale
    pristine = served.read_bytes()
    old_label = served.read_text().splitlines()[1].split(",", 1)[0]
    size = served.stat().st_size
    _edit_label(served, str((int(old_label) + 1) % 10))
    _touch_later(served)
    assert served.stat().st_size == size
    again = run_kk(kk_env, "download", SLUG)
    assert again.returncode == 0, again.stderr
    assert "up to date" not in again.stdout and "downloaded digit-recognizer" in again.stdout
    assert local.read_bytes() == served.read_bytes()

    # a change of size too (the last row removed)
    original = served.read_text()
    served.write_text("".join(original.splitlines(keepends=True)[:-1]))
    _touch_later(served, 240)
    third = run_kk(kk_env, "download", SLUG)
    assert third.returncode == 0, third.stderr
    assert "downloaded digit-recognizer" in third.stdout and "119 rows" in third.stdout
    assert local.read_bytes() == served.read_bytes()
    served.write_bytes(pristine)  # leave the store as found for the other test of this module
    _touch_later(served, 360)


def test_a_file_whose_size_differs_from_the_server_listing_is_refused(kk_env, store, emulator):
    first = run_kk(kk_env, "download", SLUG)
    assert first.returncode == 0, first.stderr
    folder = kk_env.project / "datasets" / SLUG
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    # The server's cached all-files zip goes stale (the listing says one size, the archive holds another):
    # train.csv loses its last rows, whole rows, so the CSV itself still looks valid.
    archive = emulator.backend.competitions.archive(SLUG)
    served = store / SLUG / "data" / "train.csv"
    listed_size = served.stat().st_size
    short = "".join(served.read_text().splitlines(keepends=True)[:-5])
    stat = archive.stat()
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("sample_submission.csv", "test.csv"):
            zf.write(store / SLUG / "data" / name, name)
        zf.writestr("train.csv", short)
    os.utime(archive, (stat.st_atime, stat.st_mtime))

    result = run_kk(kk_env, "download", SLUG, "--force")
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join((result.stdout + result.stderr).split())
    assert "train.csv" in message and f"the server lists {listed_size}" in message, message
    assert f"is {len(short.encode())} bytes" in message, message
    assert "Traceback" not in message
    # nothing installed, nothing left behind
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert not [p for p in folder.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert (folder / MARKER).is_file()
