"""RPC handlers of `datasets.DatasetApiService` (wire JSON <-> `DatasetsBackend`).

CreateDataset and CreateDatasetVersion report validation problems as Kaggle does: HTTP 200 with
`{"status": "Error", "error": "..."}` (the official CLI then prints "Dataset creation error: ..." and exits 0).
Unknown datasets (404) and permission problems (403) are HTTP errors.
"""

from __future__ import annotations

from kaggle_kit.emulator.api.base import Redirect, RpcContext, RpcRouter, compact, get_str, iso, paginate
from kaggle_kit.emulator.core import EmulatorError
from kaggle_kit.emulator.datasets import Dataset, DatasetFile, DatasetVersion, NewFile

router = RpcRouter("datasets.DatasetApiService")


def _new_files(items: list[dict] | None) -> list[NewFile]:
    return [NewFile(str(f.get("token") or ""), f.get("description") or "", list(f.get("columns") or []))
            for f in items or []]


def _lookup(ctx: RpcContext, body: dict) -> Dataset:
    return ctx.backend.datasets.get(ctx.user, get_str(body, "ownerSlug"), get_str(body, "datasetSlug"))


def file_json(ds: Dataset, f: DatasetFile) -> dict:
    return compact({
        "ref": f"{ds.ref}/{f.name}",
        "datasetRef": ds.ref,
        "ownerRef": ds.owner,
        "name": f.name,
        "creationDate": iso(f.created),
        "description": f.description,
        "fileType": "." + f.name.rsplit(".", 1)[-1] if "." in f.name else "",
        "totalBytes": f.size,
        "columns": f.columns,
    })


def version_json(v: DatasetVersion, ds: Dataset) -> dict:
    return {"versionNumber": v.number, "creationDate": iso(v.created), "creatorName": ds.owner,
            "creatorRef": ds.owner, "versionNotes": v.notes, "status": "ready"}


def dataset_json(ds: Dataset) -> dict:
    cur = ds.current
    return compact({
        "id": ds.id,
        "ref": ds.ref,
        "title": ds.title,
        "subtitle": ds.subtitle,
        "description": ds.description,
        "creatorName": ds.owner,
        "creatorUrl": ds.owner,
        "ownerName": ds.owner,
        "ownerRef": ds.owner,
        "url": ds.url,
        "lastUpdated": iso(cur.created),
        "isPrivate": ds.is_private,
        "licenseName": ds.license,
        "totalBytes": cur.total_bytes,
        "currentVersionNumber": cur.number,
        "usabilityRating": 0.0,
        "files": [file_json(ds, f) for f in cur.files],
        "versions": [version_json(v, ds) for v in reversed(ds.versions) if not v.deleted],
    })


def _result(ds: Dataset) -> dict:
    return {"ref": f"/datasets/{ds.ref}", "url": ds.url, "status": "Ok", "invalidTags": []}


def _soft_error(exc: EmulatorError) -> dict:
    if exc.code != 400:
        raise exc
    return {"status": "Error", "error": exc.message, "invalidTags": []}


@router.rpc("GetDatasetStatus", auth="optional")
def get_dataset_status(ctx: RpcContext, body: dict) -> dict:
    _lookup(ctx, body)
    return {"status": "READY"}


@router.rpc("GetDataset", auth="optional")
def get_dataset(ctx: RpcContext, body: dict) -> dict:
    return dataset_json(_lookup(ctx, body))


@router.rpc("ListDatasets", auth="optional")
def list_datasets(ctx: RpcContext, body: dict) -> dict:
    mine = body.get("group") in ("DATASET_SELECTION_GROUP_MY", "DATASET_SELECTION_GROUP_MY_PRIVATE",
                                 "DATASET_SELECTION_GROUP_MY_PUBLIC")
    found = ctx.backend.datasets.list(ctx.user, owner=body.get("user") or None, search=body.get("search") or "",
                                      mine=mine)
    page, token = paginate(found, body)
    return {"datasets": [dataset_json(d) for d in page], "nextPageToken": token}


@router.rpc("CreateDataset")
def create_dataset(ctx: RpcContext, body: dict) -> dict:
    user = ctx.require_user()
    try:
        ds = ctx.backend.datasets.create(
            user, str(body.get("ownerSlug") or user), str(body.get("slug") or ""), str(body.get("title") or ""),
            _new_files(body.get("files")), license_name=body.get("licenseName") or "CC0-1.0",
            is_private=bool(body.get("isPrivate")), subtitle=body.get("subtitle") or "",
            description=body.get("description") or "", keywords=body.get("categoryIds") or [])
    except EmulatorError as exc:
        return _soft_error(exc)
    return _result(ds)


def _new_version(ctx: RpcContext, ds: Dataset, payload: dict) -> dict:
    try:
        ctx.backend.datasets.create_version(
            ctx.require_user(), ds, _new_files(payload.get("files")), notes=payload.get("versionNotes") or "",
            delete_old_versions=bool(payload.get("deleteOldVersions")), subtitle=payload.get("subtitle"),
            description=payload.get("description"), keywords=payload.get("categoryIds"))
    except EmulatorError as exc:
        return _soft_error(exc)
    return _result(ds)


@router.rpc("CreateDatasetVersion")
def create_dataset_version(ctx: RpcContext, body: dict) -> dict:
    ctx.require_user()
    return _new_version(ctx, _lookup(ctx, body), body.get("body") or {})


@router.rpc("CreateDatasetVersionById")
def create_dataset_version_by_id(ctx: RpcContext, body: dict) -> dict:
    ctx.require_user()
    ds = ctx.backend.datasets.get_by_id(ctx.user, int(body.get("id") or 0))
    return _new_version(ctx, ds, body.get("body") or {})


@router.rpc("ListDatasetFiles", auth="optional")
def list_dataset_files(ctx: RpcContext, body: dict) -> dict:
    ds = _lookup(ctx, body)
    version = ctx.backend.datasets.version(ds, body.get("datasetVersionNumber"))
    page, token = paginate(version.files, body)
    return {"datasetFiles": [file_json(ds, f) for f in page], "nextPageToken": token}


@router.rpc("GetDatasetMetadata", auth="optional")
def get_dataset_metadata(ctx: RpcContext, body: dict) -> dict:
    ds = _lookup(ctx, body)
    return {"info": compact({
        "datasetId": ds.id,
        "datasetSlug": ds.slug,
        "ownerUser": ds.owner,
        "title": ds.title,
        "subtitle": ds.subtitle,
        "description": ds.description,
        "isPrivate": ds.is_private,
        "keywords": ds.keywords,
        "licenses": [{"name": ds.license}],
        "collaborators": [],
        "data": [{"name": f.name, "description": f.description, "totalBytes": f.size,
                  "columns": [{"name": c.get("name") or "", "description": c.get("description"),
                               "type": c.get("type")} for c in f.columns]} for f in ds.current.files],
    })}


@router.rpc("DownloadDataset", auth="optional")
def download_dataset(ctx: RpcContext, body: dict) -> Redirect:
    datasets = ctx.backend.datasets
    ds = _lookup(ctx, body)
    version = datasets.version(ds, body.get("datasetVersionNumber"))
    name = body.get("fileName")
    path = datasets.file_path(ds, version, name) if name else datasets.archive(ds, version)
    return Redirect(ctx.backend.blobs.publish(path))
