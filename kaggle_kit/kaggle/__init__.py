"""kk's Kaggle layer: one adapter over the official client (`KaggleClient`), downloads and submissions.

Set `KK_KAGGLE_URL=http://127.0.0.1:PORT` to send every call to a local Kaggle emulator instead of kaggle.com.

Example:
    >>> from kaggle_kit.kaggle import KaggleClient
    >>> KaggleClient().submissions("digit-recognizer")[0].public_score
    '0.98714'
"""

from kaggle_kit.kaggle.client import (
    URL_ENV,
    Credentials,
    KaggleClient,
    RemoteFile,
    Submission,
    emulator_url,
    find_credentials,
    routing_env,
)

__all__ = [
    "URL_ENV", "Credentials", "KaggleClient", "RemoteFile", "Submission", "emulator_url", "find_credentials",
    "routing_env",
]
