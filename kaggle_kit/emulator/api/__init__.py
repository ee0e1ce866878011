"""The RPC handlers, one module per Kaggle service, assembled into one table: RPC name -> `Rpc`.

Which modules exist is decided in one place, `services.SERVICES` (each entry names its backend and its API
module here). An API module holds `router = RpcRouter("<pkg>.<Service>")` and its `@router.rpc(...)` handlers.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from kaggle_kit.emulator.api.base import Redirect, Rpc, RpcContext, RpcRouter
from kaggle_kit.emulator.services import SERVICES, Service


def rpc_handlers(services: Iterable[Service] = SERVICES) -> dict[str, Rpc]:
    """All RPC handlers of the given services, keyed by `<pkg>.<Service>/<Method>`."""
    table: dict[str, Rpc] = {}
    for service in services:
        router: RpcRouter = importlib.import_module(f"{__name__}.{service.api}").router
        table.update(router.handlers)
    return table


__all__ = ["Redirect", "Rpc", "RpcContext", "RpcRouter", "rpc_handlers"]
