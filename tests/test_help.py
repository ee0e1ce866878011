"""`--help` of every command and sub-command renders (exit 0, no traceback), found by walking the Typer app."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from kaggle_kit.cli import app


def _walk(command, path: tuple[str, ...] = ()) -> list:
    """(path, command) for the command and, recursively, its sub-commands (typer ships its own click: duck-typed)."""
    out = [(path, command)]
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            out += _walk(sub, (*path, name))
    return out


COMMANDS = _walk(typer.main.get_command(app))


def test_the_walk_finds_the_command_tree():
    paths = {" ".join(p) for p, _ in COMMANDS}
    # the README's commands and at least one sub-command level (a broken walk would find only the root)
    for name in ("download", "train", "predict", "submit", "upload-weights", "push-kernel", "emulator serve"):
        assert name in paths, sorted(paths)
    assert len(COMMANDS) > 20


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "kk")
def test_help_renders(path):
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "Usage:" in result.output
    assert " ".join(("kk", *path)).split()[-1] in result.output.replace("\n", " ")
    command = dict(COMMANDS)[path]
    for param in command.params:  # every option is documented on the page
        if param.param_type_name == "option" and not getattr(param, "hidden", False):
            assert param.opts[0] in result.output, (param.opts[0], result.output)
