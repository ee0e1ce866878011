"""The flag vocabulary, checked over the whole `kk` app: every option says what it does, every command that
prints a result has --json (and --quiet where it prints progress), and a flag name means one thing everywhere."""

from __future__ import annotations

import pytest
import typer

from kaggle_kit.cli import app

# Commands with no result to print as JSON: the demo narrates, the emulator serves until stopped.
NO_JSON = {"demo", "emulator serve"}
# Commands that print their result and nothing else (no progress, no "competition:" line) need no --quiet.
NO_QUIET = NO_JSON - {"emulator serve"} | {"recipes", "runs list"}


def commands():
    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), cmd

    return list(walk(typer.main.get_command(app), []))


def options(cmd):
    return [p for p in cmd.params if p.param_type_name == "option" and not p.hidden]


def names(cmd):
    return {n for p in options(cmd) for n in p.opts}


@pytest.mark.parametrize(("name", "cmd"), commands(), ids=[n for n, _ in commands()])
def test_every_option_has_help(name, cmd):
    assert (cmd.help or "").strip(), f"kk {name} has no help"
    missing = [p.opts[0] for p in options(cmd) if not (p.help or "").strip()]
    assert not missing, f"kk {name}: options without help: {missing}"


@pytest.mark.parametrize(("name", "cmd"), commands(), ids=[n for n, _ in commands()])
def test_json_and_quiet_where_a_result_is_printed(name, cmd):
    if name not in NO_JSON:
        assert "--json" in names(cmd), f"kk {name} has no --json"
    if name not in NO_QUIET:
        assert "--quiet" in names(cmd), f"kk {name} has no --quiet"


def test_one_meaning_per_flag():
    for name, cmd in commands():
        for p in options(cmd):
            if "--folds" in p.opts:  # the number of folds K, never fold indices
                assert "number of folds" in p.help.lower(), (name, p.help)
            if "--fold" in p.opts:  # fold indices, repeatable
                assert p.multiple, name
            if "--timeout" in p.opts:  # how long kk waits; Kaggle's own limit is --session-timeout
                assert "wait" in p.help.lower(), (name, p.help)
            if "--session-timeout" in p.opts:
                assert "session" in p.help.lower(), (name, p.help)
            assert "-v" not in p.opts, f"kk {name}: -v reads as --verbose; give the option a long name"
            if "--version" in p.opts:
                pytest.fail(f"kk {name}: --version is kk's own version; name the option for what it versions")


def test_predict_folds_is_a_clear_error(tmp_path):
    from typer.testing import CliRunner

    run = tmp_path / "r1"
    result = CliRunner().invoke(app, ["predict", str(run), "--folds", "2"])
    assert result.exit_code == 1
    assert "--fold I" in result.output and f"kk predict {run} --fold 2" in result.output
