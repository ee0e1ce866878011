"""The emulator's services, in one list: each names its backend (state and behaviour) and its API module (RPCs).

`models.EmulatorBackend` builds one backend per entry, in this order (a later one may use an earlier one in its
`__init__`), and exposes it as `backend.<name>` (`ServiceBackend.name`: `backend.kernels`). `api.rpc_handlers()`
collects the `router` of each entry's `kaggle_kit.emulator.api.<api>` module. A service whose RPCs need no state
of their own (security: token introspection over the root's users) has no backend.

Example:
    >>> [s.name for s in SERVICES]
    ['security', 'blobs', 'competitions', 'datasets', 'kernels']
"""

from __future__ import annotations

from dataclasses import dataclass

from kaggle_kit.emulator.blobs import BlobStore
from kaggle_kit.emulator.competitions import CompetitionsBackend
from kaggle_kit.emulator.core import ServiceBackend
from kaggle_kit.emulator.datasets import DatasetsBackend
from kaggle_kit.emulator.kernels import KernelsBackend


@dataclass(frozen=True)
class Service:
    """One Kaggle service: `api` is its module under `kaggle_kit.emulator.api`, `backend` its `ServiceBackend`."""

    api: str
    backend: type[ServiceBackend] | None = None

    @property
    def name(self) -> str:
        return self.backend.name if self.backend is not None else self.api


SERVICES: tuple[Service, ...] = (
    Service("security"),
    Service("blobs", BlobStore),
    Service("competitions", CompetitionsBackend),
    Service("datasets", DatasetsBackend),
    Service("kernels", KernelsBackend),
)
