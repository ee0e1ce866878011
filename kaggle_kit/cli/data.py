"""`kk init`, `kk info`, `kk validate-submission`: the competition model on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from kaggle_kit.cli.common import CompetitionArg, DataDirOpt, JsonOpt, QuietOpt, announce, console, emit_json
from kaggle_kit.competition import detect_spec
from kaggle_kit.project import init_project, resolve_competition
from kaggle_kit.submission import validate_submission


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("info")(info)
    app.command("validate-submission")(validate)


def init(
    competition: Annotated[str, typer.Argument(help="Competition slug, e.g. digit-recognizer.")],
    owner: Annotated[Optional[str], typer.Option(help="Your Kaggle username (for datasets and kernels).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing kk.toml.")] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write kk.toml so later commands know the competition without being told."""
    path, written = init_project(competition, owner=owner, overwrite=force)
    if as_json:
        return emit_json({"path": str(path), "written": written, "competition": competition})
    if quiet:
        return console.print(str(path), soft_wrap=True)
    if written:
        console.print(f"wrote {path} (competition: [bold]{competition}[/])")
    else:
        console.print(f"{path} already exists; kept it (use --force to overwrite)")


def info(competition: CompetitionArg = None, data_dir: DataDirOpt = None, quiet: QuietOpt = False,
         as_json: JsonOpt = False) -> None:
    """Detect and validate a competition's files: submission format, classes, image shape, extra data."""
    ref = resolve_competition(competition, data_dir)
    announce(ref, quiet=quiet)  # on stderr: a --json reader still sees where the competition came from
    with console.status("loading and validating every file...", spinner="dots") if not (as_json or quiet) else _null():
        spec = detect_spec(ref.data_dir, slug=ref.slug, load=True, labels=ref.labels)
    if as_json:
        emit_json(spec.to_dict())
        return
    table = Table(title=f"{spec.slug}", show_header=False, title_justify="left")
    table.add_column(style="dim")
    table.add_column()
    h, w, c = spec.image_shape
    rows = [
        ("data folder", spec.data_dir),
        ("submission", f"{spec.sample_submission_file}: {spec.id_column},{spec.target_column} x {spec.submission_rows} rows"),
        ("test ids", f"column {spec.id_column!r} of {spec.test_file}" if spec.test_has_ids
         else f"from {spec.sample_submission_file}, in {spec.test_file} row order"),
        ("training", f"{spec.train_file}: {spec.train_rows} rows, label column {spec.label_column!r}"),
        ("test", f"{spec.test_file}: {spec.test_rows} rows"),
        ("image shape", f"{h}x{w}x{c}"),
        ("classes", f"{spec.num_classes}: {', '.join(map(str, spec.classes))}"),
        ("extra labelled", ", ".join(f"{k} ({v} rows)" for k, v in spec.extra_labelled.items()) or "none"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def validate(
    file: Annotated[Path, typer.Argument(help="The submission CSV to check.")],
    competition: Annotated[Optional[str], typer.Option("--competition", "-c", help="Competition slug (default: kk.toml).")] = None,
    data_dir: DataDirOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Check a submission file against the competition's format before it costs a daily submission."""
    ref = resolve_competition(competition, data_dir)
    announce(ref, quiet=quiet or as_json)
    spec = detect_spec(ref.data_dir, slug=ref.slug, load=True, labels=ref.labels)
    check = validate_submission(file, spec)
    if as_json:
        return emit_json({"valid": True, "path": str(check.path), "rows": check.rows,
                          "label_counts": {str(k): int(v) for k, v in check.label_counts.items()}})
    console.print(f"[green]valid[/]: {check.path} ({check.rows} rows; labels {check.label_counts})")


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False
