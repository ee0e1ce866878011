"""RPC handlers of `security.OAuthService`: access-token introspection (the emulator's tokens are user keys)."""

from __future__ import annotations

from kaggle_kit.emulator.api.base import RpcContext, RpcRouter

router = RpcRouter("security.OAuthService")


@router.rpc("IntrospectToken", auth="none")
def introspect_token(ctx: RpcContext, body: dict) -> dict:
    user = ctx.backend.user_for_token(str(body.get("token") or ""))
    return {"active": True, "username": user} if user else {"active": False}
