"""A local Kaggle API emulator that the real, unmodified `kaggle` client (CLI and `kaggle.api`) talks to.

Run it with `kk emulator serve --store DIR` (or `EmulatorServer` / `testing.running_emulator` in Python) and point
the client at it with `KAGGLE_API_ENVIRONMENT=LOCALHOST` plus `HTTP_PROXY=http://127.0.0.1:PORT`
(`testing.client_env` builds that environment); `kk` uses `KK_KAGGLE_URL=http://127.0.0.1:PORT`. The wire
protocol it answers is the one the official client speaks (RPCs as `POST /api/v1/<pkg>.<Service>/<Method>`).

Layout (moto style: state and behaviour apart from HTTP; each module imports only those listed above it):

    core.py            EmulatorError, users (`load_users`: a users file or $KK_EMULATOR_USERS, never argv), name
                       and slug checks (`check_slug`, ...: names become folders under --state), fault injection
                       (`Faults`), `ServiceBackend` (state persisted as JSON) and `EmulatorRoot`, the Protocol a
                       service sees of the emulator
    metrics.py         metric registry (`categorizationaccuracy`)
    scoring.py         `score_submission`: a file against the hidden solution, errors naming line and column
    blobs.py           `BlobStore`: resumable uploads and signed blob download URLs
    competitions.py    `CompetitionsBackend`: the read-only store, rules acceptance, submissions, daily limits,
                       leaderboard
    datasets.py        `DatasetsBackend`: create, version, files, archives; private = owner only
    kernel_records.py  `SaveKernelRequest`, `KernelSettings`, `Kernel`, `KernelVersion`
    notebooks.py       `runner_script`: a notebook kernel runs cell by cell and writes `__notebook__.ipynb`
    machines.py        `resolve_machine` (shapes, retired substitutes; the session limits are `accelerators.SESSION_LIMITS`)
    kernels.py         `KernelsBackend`: push (machine shapes, per-account session limits), sessions in the local
                       sandbox, logs, outputs, code submissions (code competitions only, a version required)
    services.py        `SERVICES`: the one list of services, each naming its backend class and its API module
    models.py          `EmulatorBackend`: the root; builds one backend per entry of `SERVICES`
    api/               RPC handlers, one module per service: wire JSON -> typed backend calls -> wire JSON
    responses.py       the werkzeug WSGI app: routing, auth, errors, redirects, blob GET, upload PUT, control API
                       (admin token only: `EmulatorServer.admin_token`, also `<state>/admin-token`)
    server.py          `EmulatorServer`: a threaded werkzeug HTTP server around the app
    testing.py         `running_emulator`, `client_env`, `kaggle_cli`, `call_rpc`, `ManualClock`

Backends never see the wire: a handler reads the camelCase JSON body, turns it into typed arguments (plain
values, or a request dataclass such as `SaveKernelRequest`), and turns the backend's records back into JSON.
Statuses are `kaggle_kit.status.KernelStatus` / `SubmissionStatus`.

Adding an endpoint to an existing service: a function in `api/<service>.py` decorated with
`@router.rpc("MethodName")` (`auth="optional"` for anonymous calls) that parses the body, calls the backend and
returns the response dict (or `Redirect(blob path)`); the behaviour itself goes into the service's backend.

Adding a service:

1. `<service>.py`: `class FooBackend(ServiceBackend)` with `name = "foo"`, its state in `to_state()` /
   `load_state()` and files under `self.folder`; it reaches other services by class
   (`self.root.service(BlobStore)`), never through `models.py`.
2. `api/<service>.py`: `router = RpcRouter("foo.FooApiService")` and its `@router.rpc(...)` handlers.
3. `services.py`: add `Service("<service>", FooBackend)` to `SERVICES` (after the services it uses); the root
   then has `backend.foo` and the app serves the new RPCs. Non-RPC routes go into `EmulatorApp.url_map` in
   responses.py.
"""

from __future__ import annotations

from kaggle_kit.emulator.core import EmulatorError
from kaggle_kit.emulator.models import EmulatorBackend
from kaggle_kit.emulator.server import EmulatorServer

__all__ = ["EmulatorBackend", "EmulatorError", "EmulatorServer"]
