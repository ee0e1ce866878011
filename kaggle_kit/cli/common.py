"""What every command shares: the consoles, the error boundary, and the common options."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from kaggle_kit.errors import KKError

console = Console(highlight=False, soft_wrap=True)  # paths and messages stay whole (greppable, copyable)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def render_error(exc: KKError) -> None:
    err_console.print(f"[bold red]error:[/] {exc.message}", markup=True, soft_wrap=True)
    if exc.hint:
        err_console.print(f"[yellow]hint:[/] {exc.hint}", soft_wrap=True)


class KKGroup(TyperGroup):
    """The CLI's error boundary: a `KKError` is a user mistake, printed without a traceback, exit 1."""

    def list_commands(self, ctx):  # keep the order commands were registered in (the workflow order)
        return list(self.commands)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KKError as exc:
            render_error(exc)
            raise typer.Exit(exc.exit_code) from None


CompetitionArg = Annotated[
    Optional[str],
    typer.Argument(help="Competition slug, e.g. digit-recognizer (default: the one in kk.toml).", show_default=False),
]
DataDirOpt = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Folder holding the competition's files (default: datasets/<competition>).",
                 show_default=False),
]
# How a command names the recipe it trains (kk train, kk lr-find, kk push-kernel train).
RecipeOpt = Annotated[Optional[str], typer.Option("--recipe", "-r", help="Bundled recipe name (kk recipes lists "
                                                  "them); default: kk.toml's recipe, else 'default'.",
                                                  show_default=False)]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="A recipe TOML file (instead of --recipe).",
                                                   show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a recipe setting, e.g. "
                                                     "--set optimizer.name=nadam --set augment.rotation=15 "
                                                     "(repeatable).", show_default=False)]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", help="Use a stratified sample of N training rows.",
                                                 show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result, no progress.")]


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and type(value).__module__ != "builtins":  # enums
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(payload: Any) -> None:
    """The one way a command prints its `--json` result: one JSON document on stdout, nothing else there."""
    typer.echo(json.dumps(payload, default=_jsonable))


def announce(ref, quiet: bool = False) -> None:
    """Say which competition a command acts on (it may have come from kk.toml)."""
    if not quiet:
        source = " (from kk.toml)" if ref.from_project else ""
        err_console.print(f"[dim]competition:[/] [bold]{ref.slug}[/]{source}  [dim]data:[/] {ref.data_dir}")
