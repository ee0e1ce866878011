"""`kk emulator serve`: run the local Kaggle emulator in the foreground."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from kaggle_kit.cli.common import QuietOpt
from kaggle_kit.errors import ConfigError

DEFAULT_PORT = 8765


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="The local Kaggle emulator (the real `kaggle` client and `kk` talk to it).",
                      no_args_is_help=True)
    sub.command("serve")(serve)
    app.add_typer(sub, name="emulator")


def serve(
    store: Annotated[Path, typer.Option("--store", help="Read-only folder of competitions (one sub-folder each: "
                                        "data/, solution.csv, competition.json).", show_default=False)],
    state: Annotated[Optional[Path], typer.Option("--state", help="Folder for submissions, datasets, uploads; kept "
                                                  "across restarts (default: a fresh temporary folder).",
                                                  show_default=False)] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = DEFAULT_PORT,
    user: Annotated[Optional[list[str]], typer.Option("--user", help="NAME:KEY of an accepted user; repeatable "
                                                      "(default: local:local).", show_default=False)] = None,
    scoring_delay: Annotated[float, typer.Option(help="Seconds a new submission reads as PENDING.")] = 0.0,
    quiet: QuietOpt = False,
) -> None:
    """Serve the Kaggle API for the competitions in --store until Ctrl-C (--quiet: no access log).

    Point the official client at it with KAGGLE_API_ENVIRONMENT=LOCALHOST and HTTP_PROXY=http://HOST:PORT,
    and kk with KK_KAGGLE_URL=http://HOST:PORT.
    """
    from kaggle_kit.emulator.server import EmulatorServer

    if not store.is_dir():
        raise ConfigError(f"--store {store}: no such folder",
                          hint="make one with `python make_competitions.py DIR` or kaggle_kit.sample_data")
    try:
        server = EmulatorServer(store, state, users=user or ("local:local",), host=host, port=port,
                                scoring_delay=scoring_delay, log_requests=not quiet)
    except OSError as exc:
        raise ConfigError(f"cannot start the emulator on {host}:{port}: {exc}",
                          hint="pick another --port (0: any free port)") from None
    except ValueError as exc:
        raise ConfigError(f"cannot start the emulator: {exc}") from None
    comps = ", ".join(sorted(server.backend.competitions.competitions)) or "none"
    typer.echo(f"Kaggle emulator listening on {server.url}")
    typer.echo(f"  competitions: {comps}\n  state: {server.backend.state_dir}\n"
               f"  client: KAGGLE_API_ENVIRONMENT=LOCALHOST HTTP_PROXY={server.url}   kk: KK_KAGGLE_URL={server.url}",
               err=True)

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    server.warm_archives(on_error=lambda exc: typer.echo(
        f"warning: could not pre-build competition archives: {exc}", err=True))
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.stdout.flush()
        server.serve_forever()  # returns on Ctrl-C / SIGTERM (werkzeug swallows the KeyboardInterrupt)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo("Kaggle emulator stopped", err=True)
