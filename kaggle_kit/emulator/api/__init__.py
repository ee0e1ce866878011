"""The RPC handlers, one module per Kaggle service, assembled into one table: RPC name -> `Rpc`.

To add a service (as kernels does: SaveKernel, GetKernelSessionStatus, ListKernelSessionOutput, GetKernel),
write `api/kernels.py` with `router = RpcRouter("kernels.KernelsApiService")` and its `@router.rpc(...)`
handlers, then add `kernels` to `SERVICE_MODULES` below.
"""

from __future__ import annotations

import importlib

from kaggle_kit.emulator.api.base import Redirect, Rpc, RpcContext, RpcRouter

SERVICE_MODULES = ("security", "blobs", "competitions", "datasets", "kernels")


def rpc_handlers(modules: tuple[str, ...] = SERVICE_MODULES) -> dict[str, Rpc]:
    """All RPC handlers of the given `api.<module>`s, keyed by `<pkg>.<Service>/<Method>`."""
    table: dict[str, Rpc] = {}
    for name in modules:
        router: RpcRouter = importlib.import_module(f"{__name__}.{name}").router
        table.update(router.handlers)
    return table


__all__ = ["SERVICE_MODULES", "Redirect", "Rpc", "RpcContext", "RpcRouter", "rpc_handlers"]
