"""The one exception type users see.

Every mistake a user can make (a missing file, a bad pixel, a wrong key) is raised as a `KKError` whose
message names the file, row and column involved. The CLI prints it without a traceback and exits non-zero;
anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class KKError(Exception):
    """A user-facing error: `message` says what is wrong, `hint` what to do about it.

    Example:
        >>> raise KKError("train.csv: row 3 (line 5), column 'pixel5': pixel 300 is outside 0..255")
        Traceback (most recent call last):
        ...
        kaggle_kit.errors.KKError: train.csv: row 3 (line 5), column 'pixel5': pixel 300 is outside 0..255
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class DataError(KKError):
    """A competition file is missing or malformed."""


class ConfigError(KKError):
    """A recipe, `kk.toml` or `--set` override is invalid."""


class SubmissionError(KKError):
    """A submission file does not match the competition's format."""


class LockedError(KKError):
    """Another kk process is working in the same folder (a run being trained, a download being installed)."""


class TamperedRunError(KKError):
    """A run folder's files no longer match its manifest.json (or the manifest itself is damaged)."""


class OtherDataError(KKError):
    """A run is being used on data other than the data it was trained on."""
