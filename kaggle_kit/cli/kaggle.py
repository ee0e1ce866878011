"""`kk download`, `kk submit`, `kk submissions`: the competition's side of Kaggle.

Every command talks to kaggle.com, or to a local emulator when `KK_KAGGLE_URL` is set. The Kaggle layer is
imported inside the commands so that `kk --help` does not pay for the official client.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from kaggle_kit.cli.common import (
    CompetitionArg,
    DataDirOpt,
    JsonOpt,
    QuietOpt,
    announce,
    console,
    emit_json,
    err_console,
)
from kaggle_kit.cli.progress import elapsed_spinner, transfer_bar
from kaggle_kit.errors import KKError
from kaggle_kit.project import resolve_competition
from kaggle_kit.status import SubmissionStatus


def register(app: typer.Typer) -> None:
    app.command("download")(download_cmd)
    app.command("submit")(submit_cmd)
    app.command("submissions")(submissions_cmd)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def download_cmd(
    competition: CompetitionArg = None,
    path: Annotated[Optional[Path], typer.Option("--path", "-p", help="Parent folder; files go to PATH/<competition>/ "
                                                 "(default: kk.toml's datasets_dir, else datasets/).",
                                                 show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even if the local copy is current.")] = False,
    data_dir: DataDirOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Download a competition's files into datasets/<competition>/, verified and unzipped (a no-op when current)."""
    from kaggle_kit.competition import detect_spec
    from kaggle_kit.kaggle.client import KaggleClient
    from kaggle_kit.kaggle.download import download_competition, ensure_project

    if path is not None and data_dir is not None:
        raise KKError("give either --path (the parent folder) or --data-dir (the competition's own folder)")
    ref = resolve_competition(competition, data_dir)
    folder = path / ref.slug if path is not None else ref.data_dir
    silent = quiet or as_json
    if not silent:
        err_console.print(f"[dim]competition:[/] [bold]{ref.slug}[/]{' (from kk.toml)' if ref.from_project else ''}"
                          f"  [dim]into:[/] {folder}", soft_wrap=True)
    client = KaggleClient()
    with transfer_bar(err_console, f"downloading {ref.slug}.zip") if not silent else nullcontext() as progress:
        result = download_competition(ref.slug, folder, force=force, client=client, progress=progress)
    written = ensure_project(ref.slug, path if path is not None else "datasets", client.username)
    if silent:
        spec = detect_spec(folder, slug=ref.slug, load=True)
        if as_json:
            return emit_json({"competition": ref.slug, "folder": str(folder), "downloaded": result.downloaded,
                              "files": result.files, "bytes_fetched": result.bytes_fetched,
                              "seconds": round(result.seconds, 1), "kk_toml": str(written) if written else None,
                              "train_rows": spec.train_rows, "test_rows": spec.test_rows,
                              "classes": spec.num_classes})
        return console.print(str(folder), soft_wrap=True)
    n = len(result.files)
    if result.downloaded:
        rate = result.bytes_fetched / result.seconds / 1e6 if result.seconds else 0.0
        console.print(f"downloaded {ref.slug}: {n} files ({_size(result.total_bytes)}) into {folder} "
                      f"in {result.seconds:.1f} s ({_size(result.bytes_fetched)} archive, {rate:.1f} MB/s)", soft_wrap=True)
    else:
        console.print(f"{folder} is up to date ({n} files, {_size(result.total_bytes)}, same as on the server); "
                      "nothing downloaded (use --force to download again)", soft_wrap=True)
    if written:
        console.print(f"wrote {written} (competition: [bold]{ref.slug}[/]); later commands can omit the competition",
                      soft_wrap=True)
    with err_console.status("checking every file...", spinner="dots"):
        spec = detect_spec(folder, slug=ref.slug, load=True)
    h, w, c = spec.image_shape
    extra = "".join(f", {k} ({v} rows)" for k, v in spec.extra_labelled.items())
    console.print(f"[green]valid[/]: {spec.train_file} {spec.train_rows} rows{extra}, {spec.test_file} "
                  f"{spec.test_rows} rows, {spec.num_classes} classes, {h}x{w}x{c} images; submission "
                  f"{spec.id_column},{spec.target_column} x {spec.submission_rows}", soft_wrap=True)


def submit_cmd(
    competition: CompetitionArg = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="Submission CSV (default: the newest valid one "
                                                 "in runs/<competition>/*/ or ./submission.csv).",
                                                 show_default=False)] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Submission description.")] = "",
    kernel: Annotated[Optional[str], typer.Option("--kernel", "-k", help="Submit this kernel's submission.csv "
                                                  "(OWNER/SLUG, code-competition style) instead of a local file.",
                                                  show_default=False)] = None,
    version: Annotated[Optional[int], typer.Option("--kernel-version", help="Kernel version for --kernel "
                                                   "(default: the latest).", show_default=False)] = None,
    old_version: Annotated[Optional[int], typer.Option("--version", "-v", hidden=True,
                                                       help="Old name of --kernel-version.")] = None,
    run: Annotated[Optional[str], typer.Option("--run", help="Record the submission under this run (id or folder) "
                                               "in the run ledger (default: the run folder holding --file, or the "
                                               "run an inference kernel predicted with).", show_default=False)]
    = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until scored and print the public score.")] = False,
    poll_interval: Annotated[Optional[float], typer.Option(
        "--poll-interval", help="Seconds between status checks with --wait (default 5; 0.5 against an emulator).",
        show_default=False)] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="With --wait: stop waiting after this many seconds "
                                           "(the submission keeps scoring).")] = 1800.0,
    data_dir: DataDirOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate and upload a submission; with --wait, print its public score.

    The file is checked against the competition's format first: an invalid file is never uploaded.
    """
    from kaggle_kit import ledger
    from kaggle_kit.competition import detect_spec
    from kaggle_kit.kaggle.client import KaggleClient
    from kaggle_kit.kaggle.submit import pick_submission, submit_file, submit_kernel_output, wait_for_score
    from kaggle_kit.submission import validate_submission

    version = version if version is not None else old_version
    ref = resolve_competition(competition, data_dir)
    announce(ref, quiet=quiet or as_json)
    spec = detect_spec(ref.data_dir, slug=ref.slug, load=True)
    client = KaggleClient()
    run_dir = ledger.resolve_run(run, ref.slug) if run is not None else None  # a wrong --run fails before uploading
    say = (lambda *_a, **_k: None) if quiet else err_console.print
    if kernel is not None:
        if file is not None:
            raise KKError("give either --file or --kernel, not both")
        sub_ref = submit_kernel_output(ref.slug, kernel, spec, version=version, message=message, client=client)
        say(f"submitted kernel {kernel}" + (f" version {version}" if version else "")
                          + f"'s submission.csv (validated) to {ref.slug}: submission {sub_ref}", soft_wrap=True)
    elif file is None:
        pick = pick_submission(ref.slug, spec)
        for path, why in pick.skipped:
            say(f"[yellow]skipped[/] {path}: {why}", soft_wrap=True)
        say(f"picked [bold]{pick.path}[/] (newest valid of {pick.candidates} candidate"
                          f"{'s' if pick.candidates != 1 else ''}: {pick.check.rows} rows)", soft_wrap=True)
        file = pick.path
    else:
        check = validate_submission(file, spec)
        say(f"[green]valid[/]: {file} ({check.rows} rows)", soft_wrap=True)
    if kernel is None:
        sub_ref = submit_file(ref.slug, file, spec, message, client=client)
        say(f"uploaded {file} to {ref.slug}: submission {sub_ref}", soft_wrap=True)
        run_dir = run_dir or ledger.run_for_file(file)
    elif run_dir is None:
        try:
            kernel_run = ledger.kernel_run_id(client, kernel, version)
        except KKError:  # not a kk kernel, or its outputs are gone: the submission stands, unrecorded
            kernel_run = None
        run_dir = ledger.run_of_submission(ref.slug, kernel_run=kernel_run)
    if wait:
        poll = poll_interval if poll_interval is not None else (0.5 if client.url else 5.0)
        with elapsed_spinner(err_console, f"waiting for submission {sub_ref} to be scored", quiet=quiet) as note:
            sub = wait_for_score(client, sub_ref, poll=poll, timeout=timeout,
                                 on_poll=lambda s: note(f"submission {sub_ref}: {s.status if s else 'queued'}"))
    else:
        sub = client.submission(sub_ref)
    status = sub.status if sub else SubmissionStatus.PENDING
    public = sub.public_score if sub else None
    entry = None
    if run_dir is not None:
        entry = ledger.record(client, ref.slug, run_dir, sub_ref, sub, file=file, kernel=kernel,
                              kernel_version=version, message=message)
        if not quiet and not as_json:
            rank = f", rank {entry.rank} of {entry.teams} on the public board" if entry.rank else ""
            err_console.print(f"[dim]recorded in run {run_dir.name}'s ledger{rank} (kk runs)[/]", soft_wrap=True)
    if as_json:
        emit_json({"ref": sub_ref, "status": status, "public_score": public,
                   "run": str(run_dir) if run_dir is not None else None, "rank": entry.rank if entry else None})
        return
    if wait:
        private = f"  private score: {sub.private_score}" if sub and sub.private_score else ""
        rank = f" (rank {entry.rank} of {entry.teams})" if entry is not None and entry.rank else ""
        console.print(f"submission {sub_ref}: {status}  public score: [bold]{public}[/]{rank}{private}",
                      soft_wrap=True)
    else:
        console.print(f"submission {sub_ref}: {status} (its score: `kk runs --refresh` or `kk submissions`)",
                      soft_wrap=True)


def submissions_cmd(competition: CompetitionArg = None, quiet: QuietOpt = False, as_json: JsonOpt = False) -> None:
    """List your submissions to a competition: date, description, status, public and private score."""
    from kaggle_kit import ledger
    from kaggle_kit.kaggle.client import KaggleClient

    ref = resolve_competition(competition)
    announce(ref, quiet=quiet or as_json)
    subs = KaggleClient().submissions(ref.slug)
    ledger.refresh_scores(ref.slug, subs)  # the scores just fetched also go into the runs' ledgers (kk runs)
    if as_json:
        emit_json(subs)
        return
    if not subs:
        console.print(f"no submissions to {ref.slug} yet")
        return
    table = Table(title=f"submissions to {ref.slug}", title_justify="left")
    for col, kw in (("ref", {"justify": "right"}), ("date", {"no_wrap": True}),
                    ("file", {"overflow": "fold", "max_width": 24}), ("description", {"min_width": 16}),
                    ("status", {"no_wrap": True}), ("public", {"justify": "right", "no_wrap": True}),
                    ("private", {"justify": "right", "no_wrap": True})):
        table.add_column(col, **kw)
    colours = {SubmissionStatus.COMPLETE: "green", SubmissionStatus.ERROR: "red", SubmissionStatus.PENDING: "yellow"}
    for s in subs:
        date = (s.date or "")[:16].replace("T", " ")
        status = f"[{colours[s.status]}]{s.status}[/]"
        if s.status is SubmissionStatus.ERROR and s.error:
            status += f"\n[dim]{s.error}[/]"
        table.add_row(str(s.ref), date, s.file_name or "", s.description or "", status, s.public_score or "",
                      s.private_score or "")
    console.print(table)
