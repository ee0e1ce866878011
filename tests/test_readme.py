"""Every `kk` command the README shows parses against the real CLI: no stale command or option in the docs.

(Running them is the job of the demo test and the workflow tests; this one keeps the README honest as the CLI
changes.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import typer

from kaggle_kit.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"
PLACEHOLDERS = {"<run-id>": "20261122-000000-default", "<kernel-slug>": "digit-recognizer-kk-inference",
                "YOUR_KAGGLE_NAME": "someone"}


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("kk "):
                for k, v in PLACEHOLDERS.items():
                    line = line.replace(k, v)
                commands.append(line)
    return commands


def test_readme_shows_the_whole_workflow():
    names = {shlex.split(c)[1] for c in readme_commands()}
    for expected in ("init", "download", "info", "lr-find", "train", "push-kernel", "runs", "predict",
                     "upload-weights", "submit", "submissions", "emulator"):
        assert expected in names


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_parses(command):
    group = typer.main.get_command(app)
    args = shlex.split(command)[1:]
    with group.make_context("kk", list(args), resilient_parsing=False) as ctx:
        name, cmd, rest = group.resolve_command(ctx, _remaining(ctx))
        while hasattr(cmd, "commands"):  # a group (typer may vendor its own click: no isinstance)
            sub_ctx = cmd.make_context(name, rest, parent=ctx)
            name, cmd, rest = cmd.resolve_command(sub_ctx, _remaining(sub_ctx))
            ctx = sub_ctx
        cmd.make_context(name, rest, parent=ctx)  # raises click.UsageError on an unknown option or argument


def _remaining(ctx: click.Context) -> list[str]:
    """A group context's unparsed words (click keeps the sub-command name apart from its arguments)."""
    return [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
