"""A local Kaggle API emulator that the real, unmodified `kaggle` client (CLI and `kaggle.api`) talks to.

Run it with `kk emulator serve --store DIR` (or `EmulatorServer` / `testing.running_emulator` in Python) and point
the client at it with `KAGGLE_API_ENVIRONMENT=LOCALHOST` plus `HTTP_PROXY=http://127.0.0.1:PORT`
(`testing.client_env` builds that environment); `kk` uses `KK_KAGGLE_URL=http://127.0.0.1:PORT`.

Layout (moto style: state and behaviour apart from HTTP):

    core.py          EmulatorError, users, fault injection (`Faults`), `ServiceBackend` (state persisted as JSON)
    models.py        `EmulatorBackend`: the root; builds one backend per entry of `SERVICE_BACKENDS`
    blobs.py         `BlobStore`: resumable uploads and signed blob download URLs
    competitions.py  `CompetitionsBackend`: the read-only store, submissions, scoring, daily limits
    datasets.py      `DatasetsBackend`: create, version, files, archives; private = owner only
    metrics.py       metric registry (`categorizationaccuracy`)
    api/             RPC handlers, one module per Kaggle service (wire JSON <-> backend), `api.rpc_handlers()`
    responses.py     the werkzeug WSGI app: routing, auth, errors, redirects, blob GET, upload PUT, control API
    server.py        `EmulatorServer`: a threaded werkzeug HTTP server around the app
    testing.py       `running_emulator`, `client_env`, `kaggle_cli`

Adding a service (the place left for kernels: SaveKernel, GetKernelSessionStatus, ListKernelSessionOutput,
GetKernel):

1. `kernels.py`: `class KernelsBackend(ServiceBackend)` with `name = "kernels"`, its state in `to_state()` /
   `load_state()` and files under `self.folder`; register it in `models.SERVICE_BACKENDS` (it becomes
   `backend.kernels`; it can use `root.blobs.publish(path)` for output-file URLs, `root.competitions`,
   `root.datasets`).
2. `api/kernels.py`: `router = RpcRouter("kernels.KernelsApiService")` with `@router.rpc("SaveKernel")`
   handlers; add `"kernels"` to `api.SERVICE_MODULES`. Non-RPC routes (`GET /api/v1/kernels/logs/stream/...`)
   go into `EmulatorApp.url_map` in responses.py.
"""

from __future__ import annotations

from kaggle_kit.emulator.core import EmulatorError
from kaggle_kit.emulator.models import EmulatorBackend
from kaggle_kit.emulator.server import EmulatorServer

__all__ = ["EmulatorBackend", "EmulatorError", "EmulatorServer"]
