"""kk's Kaggle layer: one facade over the official client (`KaggleClient`), downloads and submissions.

Set `KK_KAGGLE_URL=http://127.0.0.1:PORT` to send every call to a local Kaggle emulator instead of kaggle.com.
`kaggle_kit.kaggle.client` describes how the layer is cut (credentials, routing, errors, transport, types, and
one module per service).

Example (against a running emulator, `KK_KAGGLE_URL` set):

    from kaggle_kit.kaggle import KaggleClient
    KaggleClient().submissions("digit-recognizer")[0].public_score      # '0.98714'
"""

from kaggle_kit.kaggle.client import KaggleClient
from kaggle_kit.kaggle.credentials import Credentials, find_credentials
from kaggle_kit.kaggle.routing import URL_ENV, emulator_url, routing_env
from kaggle_kit.kaggle.types import KernelSession, RemoteFile, Submission, split_ref

__all__ = [
    "URL_ENV", "Credentials", "KaggleClient", "KernelSession", "RemoteFile", "Submission", "emulator_url",
    "find_credentials", "routing_env", "split_ref",
]
