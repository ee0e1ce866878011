"""RPC handlers of `kernels.KernelsApiService` (wire JSON <-> `KernelsBackend`), plus code submissions.

SaveKernel's body is parsed into a `SaveKernelRequest` (`save_kernel_request`); it answers
`{ref, url, versionNumber}` and lists sources it cannot mount in `invalid*Sources` (the official CLI prints them
as warnings; kk treats them as errors). GetKernelSessionStatus gives QUEUED, RUNNING,
COMPLETE or ERROR (with `failureMessage`). ListKernelSessionOutput gives the output files as absolute signed blob
URLs and the log as Kaggle writes it: a JSON array of `{"stream_name", "time", "data"}`. GetKernel (pull) always
carries the `blob` the client needs. `competitions.CompetitionApiService/CreateCodeSubmission` submits a kernel
version's output file (default `submission.csv`) to its competition (`KernelsBackend.submit_output`).

This module's `router` also holds CreateCodeSubmission (a competitions RPC that only makes sense with kernels).
"""

from __future__ import annotations

import json

from kaggle_kit.emulator.api.base import RpcContext, RpcRouter, compact, get_str, iso, paginate
from kaggle_kit.emulator.core import EmulatorError
from kaggle_kit.emulator.kernel_records import Kernel, KernelSettings, KernelVersion, SaveKernelRequest

router = RpcRouter("kernels.KernelsApiService")
code_submissions = RpcRouter("competitions.CompetitionApiService")


def _lookup(ctx: RpcContext, body: dict) -> Kernel:
    return ctx.backend.kernels.get(ctx.user, get_str(body, "userName"), get_str(body, "kernelSlug"))


def metadata_json(k: Kernel, v: KernelVersion) -> dict:
    s = v.settings
    return compact({
        "id": k.id, "ref": k.ref, "title": k.title, "author": k.owner, "slug": k.slug,
        "lastRunTime": iso(v.finished or v.created), "language": s.language, "kernelType": s.kernel_type,
        "isPrivate": k.is_private, "enableGpu": s.enable_gpu, "enableTpu": s.enable_tpu,
        "enableInternet": s.enable_internet, "categoryIds": s.category_ids,
        "datasetDataSources": s.dataset_data_sources, "kernelDataSources": s.kernel_data_sources,
        "competitionDataSources": s.competition_data_sources, "modelDataSources": s.model_data_sources,
        "totalVotes": 0, "currentVersionNumber": v.number, "dockerImage": s.docker_image,
        "machineShape": s.machine_shape,
    })


def _strings(body: dict, key: str) -> list[str]:
    return [str(x) for x in body.get(key) or []]


def save_kernel_request(body: dict) -> SaveKernelRequest:
    """SaveKernel's wire JSON (`ApiSaveKernelRequest`, camelCase, defaults omitted) as a typed push."""
    timeout = body.get("sessionTimeoutSeconds")
    return SaveKernelRequest(
        slug=str(body.get("slug") or ""),
        id=int(body["id"]) if body.get("id") else None,
        text=str(body.get("text") or ""),
        new_title=str(body["newTitle"]) if body.get("newTitle") else None,
        quick_save=body.get("kernelExecutionType") == "QUICK_SAVE",
        settings=KernelSettings(
            language=str(body.get("language") or "python"),
            kernel_type=str(body.get("kernelType") or "script"),
            is_private=bool(body.get("isPrivate", True)),
            enable_gpu=bool(body.get("enableGpu")),
            enable_tpu=bool(body.get("enableTpu")),
            enable_internet=bool(body.get("enableInternet")),
            machine_shape=body.get("machineShape") or None,
            competition_data_sources=_strings(body, "competitionDataSources"),
            dataset_data_sources=_strings(body, "datasetDataSources"),
            kernel_data_sources=_strings(body, "kernelDataSources"),
            model_data_sources=_strings(body, "modelDataSources"),
            category_ids=_strings(body, "categoryIds"),
            docker_image=body.get("dockerImage") or None,
            session_timeout_seconds=int(timeout) if timeout else None,
        ),
    )


@router.rpc("SaveKernel")
def save_kernel(ctx: RpcContext, body: dict) -> dict:
    user = ctx.require_user()
    try:
        kernel, v, invalid = ctx.backend.kernels.push(user, save_kernel_request(body))
    except EmulatorError as exc:
        if exc.code != 400:
            raise
        return {"error": exc.message}  # Kaggle reports push problems in a 200 answer; the client prints them
    return {
        "ref": f"/code/{kernel.ref}", "url": kernel.url, "versionNumber": v.number,
        "invalidCompetitionSources": invalid["competition"], "invalidDatasetSources": invalid["dataset"],
        "invalidKernelSources": invalid["kernel"], "invalidTags": [],
    }


@router.rpc("GetKernelSessionStatus")
def get_kernel_session_status(ctx: RpcContext, body: dict) -> dict:
    kernel = _lookup(ctx, body)
    v = ctx.backend.kernels.version(kernel, body.get("versionLabel"))
    return compact({"status": v.status, "failureMessage": v.failure_message})


@router.rpc("ListKernelSessionOutput")
def list_kernel_session_output(ctx: RpcContext, body: dict) -> dict:
    kernels = ctx.backend.kernels
    kernel = _lookup(ctx, body)
    v = kernels.version(kernel, body.get("versionLabel"))
    files = kernels.output_files(kernel, v)
    page, token = paginate(files, body)
    out = {
        "files": [{"fileName": name, "url": ctx.absolute(ctx.backend.blobs.publish(path))} for name, path in page],
        "nextPageToken": token,
    }
    if not body.get("pageToken"):  # the log comes with the first page only (the client concatenates pages)
        out["log"] = json.dumps(kernels.log(kernel, v))
    return out


@router.rpc("GetKernel")
def get_kernel(ctx: RpcContext, body: dict) -> dict:
    kernels = ctx.backend.kernels
    kernel = _lookup(ctx, body)
    v = kernels.version(kernel, body.get("versionLabel"))
    return {
        "metadata": metadata_json(kernel, v),
        "blob": {"source": kernels.source(kernel, v), "language": v.settings.language,
                 "kernelType": v.settings.kernel_type, "slug": kernel.slug},
    }


@router.rpc("ListKernels")
def list_kernels(ctx: RpcContext, body: dict) -> dict:
    kernels = ctx.backend.kernels
    mine = str(body.get("group") or "").endswith("PROFILE")
    found = kernels.list(ctx.user, owner=body.get("user") or None, search=body.get("search") or "", mine=mine)
    if body.get("competition"):
        found = [k for k in found if body["competition"] in k.current.settings.competition_data_sources]
    if body.get("dataset"):
        found = [k for k in found if body["dataset"] in k.current.settings.dataset_data_sources]
    page, token = paginate(found, body)
    return {"kernels": [metadata_json(k, k.current) for k in page], "nextPageToken": token}


@code_submissions.rpc("CreateCodeSubmission")
def create_code_submission(ctx: RpcContext, body: dict) -> dict:
    """Submit kernel `kernelOwner/kernelSlug` version `kernelVersion` (required)'s `fileName` output."""
    user = ctx.require_user()
    comp = ctx.backend.competitions.get(get_str(body, "competitionName"))
    kernel = ctx.backend.kernels.get(user, get_str(body, "kernelOwner"), get_str(body, "kernelSlug"))
    sub = ctx.backend.kernels.submit_output(user, comp.slug, kernel, body.get("kernelVersion"),
                                            body.get("fileName") or "submission.csv",
                                            body.get("submissionDescription") or "")
    return {"message": f"Successfully submitted to {comp.title}", "ref": sub.ref}

router.handlers.update(code_submissions.handlers)
