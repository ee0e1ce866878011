"""RPC handlers of `blobs.BlobApiService`: the upload slots datasets (and models, kernels) are built from."""

from __future__ import annotations

from kaggle_kit.emulator.api.base import RpcContext, RpcRouter, get_str

router = RpcRouter("blobs.BlobApiService")


@router.rpc("StartBlobUpload")
def start_blob_upload(ctx: RpcContext, body: dict) -> dict:
    upload = ctx.backend.blobs.start_upload(
        ctx.require_user(), body.get("type") or "API_BLOB_TYPE_UNSPECIFIED", get_str(body, "name"),
        int(body.get("contentLength") or 0), body.get("lastModifiedEpochSeconds"))
    return {"token": upload.token, "createUrl": ctx.absolute(f"/upload/{upload.token}")}
