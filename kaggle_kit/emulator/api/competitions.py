"""RPC handlers of `competitions.CompetitionApiService` (wire JSON <-> `CompetitionsBackend`)."""

from __future__ import annotations

import zlib

from kaggle_kit.emulator.api.base import Redirect, RpcContext, RpcRouter, compact, get_str, iso, paginate
from kaggle_kit.emulator.competitions import CompetitionInfo, SubmissionView, team_id
from kaggle_kit.emulator.scoring import format_score
from kaggle_kit.status import SubmissionStatus

router = RpcRouter("competitions.CompetitionApiService")


def competition_json(ctx: RpcContext, c: CompetitionInfo) -> dict:
    comps = ctx.backend.competitions
    return compact({
        "id": zlib.crc32(c.slug.encode()) % 1_000_000,
        "ref": c.url,
        "title": c.title,
        "url": c.url,
        "description": c.description,
        "category": c.category,
        "reward": c.reward,
        "deadline": iso(c.deadline),
        "enabledDate": iso(c.created),
        "dateCreated": iso(c.created),
        "teamCount": comps.team_count(c.slug),
        "userHasEntered": comps.has_accepted(ctx.user, c.slug),
        "maxDailySubmissions": c.max_daily_submissions,
        "evaluationMetric": c.metric,
        "hostName": "kaggle-kit emulator",
    })


def submission_json(ctx: RpcContext, view: SubmissionView) -> dict:
    s = view.submission
    return compact({
        "ref": s.ref,
        "totalBytes": s.total_bytes,
        "date": iso(s.date),
        "description": s.description,
        "errorDescription": view.error_description,
        "fileName": s.file_name,
        "publicScore": view.public_score or "",
        "privateScore": view.private_score or "",
        "status": view.status,
        "submittedBy": s.owner,
        "submittedByRef": s.owner,
        "teamName": s.owner,
        "url": f"https://www.kaggle.com/competitions/{s.competition}/submissions",
    })


@router.rpc("ListCompetitions")
def list_competitions(ctx: RpcContext, body: dict) -> dict:
    user = ctx.require_user()
    entered = body.get("group") == "COMPETITION_LIST_TAB_ENTERED"
    comps = ctx.backend.competitions.list(body.get("search") or "", user, entered_only=entered)
    page, token = paginate(comps, body)
    return {"competitions": [competition_json(ctx, c) for c in page], "nextPageToken": token}


@router.rpc("ListDataFiles")
def list_data_files(ctx: RpcContext, body: dict) -> dict:
    ctx.require_user()
    slug = get_str(body, "competitionName")
    files = ctx.backend.competitions.data_files(slug)
    page, token = paginate(files, body)
    return {
        "files": [{"ref": rel, "name": rel, "totalBytes": p.stat().st_size, "creationDate": iso(p.stat().st_mtime)}
                  for rel, p in page],
        "nextPageToken": token,
    }


@router.rpc("DownloadDataFiles")
def download_data_files(ctx: RpcContext, body: dict) -> Redirect:
    slug = get_str(body, "competitionName")
    ctx.backend.competitions.require_rules(ctx.require_user(), slug)
    archive = ctx.backend.competitions.archive(slug)
    return Redirect(ctx.backend.blobs.publish(archive))


@router.rpc("DownloadDataFile")
def download_data_file(ctx: RpcContext, body: dict) -> Redirect:
    slug = get_str(body, "competitionName")
    ctx.backend.competitions.require_rules(ctx.require_user(), slug)
    path = ctx.backend.competitions.data_file(slug, get_str(body, "fileName"))
    return Redirect(ctx.backend.blobs.publish(path))


@router.rpc("StartSubmissionUpload")
def start_submission_upload(ctx: RpcContext, body: dict) -> dict:
    upload = ctx.backend.competitions.start_submission_upload(
        ctx.require_user(), get_str(body, "competitionName"), get_str(body, "fileName"),
        int(body.get("contentLength") or 0), body.get("lastModifiedEpochSeconds"))
    return {"token": upload.token, "createUrl": ctx.absolute(f"/upload/{upload.token}")}


@router.rpc("CreateSubmission")
def create_submission(ctx: RpcContext, body: dict) -> dict:
    comps = ctx.backend.competitions
    slug = get_str(body, "competitionName")
    sub = comps.create_submission(ctx.require_user(), slug, get_str(body, "blobFileTokens"),
                                  body.get("submissionDescription") or "", bool(body.get("sandbox")))
    return {"message": f"Successfully submitted to {comps.get(slug).title}", "ref": sub.ref}


@router.rpc("GetSubmission")
def get_submission(ctx: RpcContext, body: dict) -> dict:
    comps = ctx.backend.competitions
    return submission_json(ctx, comps.view(comps.submission(ctx.require_user(), int(body.get("ref") or 0))))


_SORT_KEYS = {
    "SUBMISSION_SORT_BY_NAME": lambda v: v.submission.file_name,
    "SUBMISSION_SORT_BY_PUBLIC_SCORE": lambda v: float(v.public_score or "-inf"),
    "SUBMISSION_SORT_BY_PRIVATE_SCORE": lambda v: float(v.private_score or "-inf"),
}


@router.rpc("ListSubmissions")
def list_submissions(ctx: RpcContext, body: dict) -> dict:
    comps = ctx.backend.competitions
    views = [comps.view(s) for s in comps.list_submissions(ctx.require_user(), get_str(body, "competitionName"))]
    if body.get("group") == "SUBMISSION_GROUP_SUCCESSFUL":
        views = [v for v in views if v.status is SubmissionStatus.COMPLETE]
    key = _SORT_KEYS.get(body.get("sortBy") or "")
    if key is not None:
        views.sort(key=key, reverse=body.get("sortBy") != "SUBMISSION_SORT_BY_NAME")
    page, token = paginate(views, body)
    return {"submissions": [submission_json(ctx, v) for v in page], "nextPageToken": token}


@router.rpc("GetSubmissionLimits")
def get_submission_limits(ctx: RpcContext, body: dict) -> dict:
    limits = ctx.backend.competitions.limits(ctx.require_user(), get_str(body, "competitionName"))
    return {"numToday": limits["num_today"], "numTotal": limits["num_total"],
            "numAllowedNow": limits["num_allowed_now"], "limitedByTotal": False}


@router.rpc("GetLeaderboard")
def get_leaderboard(ctx: RpcContext, body: dict) -> dict:
    ctx.require_user()
    rows = ctx.backend.competitions.leaderboard(get_str(body, "competitionName"), bool(body.get("overridePublic")))
    page, token = paginate(rows, body)
    return {"submissions": [{"teamId": team_id(owner), "teamName": owner,
                             "submissionDate": iso(sub.date), "score": format_score(score)}
                            for owner, sub, score in page], "nextPageToken": token}


@router.rpc("DownloadLeaderboard")
def download_leaderboard(ctx: RpcContext, body: dict) -> Redirect:
    ctx.require_user()
    archive = ctx.backend.competitions.leaderboard_archive(get_str(body, "competitionName"))
    return Redirect(ctx.backend.blobs.publish(archive))
