"""`kk emulator serve`: run the local Kaggle emulator in the foreground; `kk emulator accept-rules`.

Users' API keys never go on the command line (any process, kernels included, can read another's argv in
/proc): they come from `--users-file` (JSON `{"name": "key"}` or `name:key` lines) and/or `$KK_EMULATOR_USERS`
(`name:key,name:key`). With neither, the one user is `local` with the well-known key `local`.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from kaggle_kit.cli.common import JsonOpt, QuietOpt, emit_json
from kaggle_kit.errors import ConfigError

DEFAULT_PORT = 8765


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="The local Kaggle emulator (the real `kaggle` client and `kk` talk to it).",
                      no_args_is_help=True)
    sub.command("serve")(serve)
    sub.command("accept-rules")(accept_rules)
    app.add_typer(sub, name="emulator")


def serve(
    store: Annotated[Path, typer.Option("--store", help="Read-only folder of competitions (one sub-folder each: "
                                        "data/, solution.csv, competition.json).", show_default=False)],
    state: Annotated[Optional[Path], typer.Option("--state", help="Folder for submissions, datasets, uploads; kept "
                                                  "across restarts (default: a fresh temporary folder).",
                                                  show_default=False)] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = DEFAULT_PORT,
    users_file: Annotated[Optional[Path], typer.Option("--users-file", help="File of accepted users: JSON "
                                                       '{"name": "key"} or name:key lines (keep it mode 600). Also '
                                                       "read: $KK_EMULATOR_USERS=name:key,... (default: local:local).",
                                                       show_default=False)] = None,
    user: Annotated[Optional[list[str]], typer.Option("--user", hidden=True,
                                                      help="Refused: keys on the command line are public.")] = None,
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Listen on a non-loopback --host (anyone "
                                               "who can reach it may run code in kernels).")] = False,
    scoring_delay: Annotated[float, typer.Option(help="Seconds a new submission reads as PENDING.")] = 0.0,
    image: Annotated[str, typer.Option("--image", help="Image profile kernel sessions run under: kaggle (Kaggle's "
                                       "image for each session's accelerator), kaggle-gpu, kaggle-tpu, or local "
                                       "(this environment as it is); see kk run-kernel --help.")] = "kaggle",
    quiet: QuietOpt = False,
) -> None:
    """Serve the Kaggle API for the competitions in --store until Ctrl-C (--quiet: no access log).

    Point the official client at it with KAGGLE_API_ENVIRONMENT=LOCALHOST and HTTP_PROXY=http://HOST:PORT,
    and kk with KK_KAGGLE_URL=http://HOST:PORT.
    """
    from kaggle_kit.emulator.core import USERS_ENV, load_users
    from kaggle_kit.emulator.server import EmulatorServer

    if user:
        raise ConfigError("--user is not accepted: API keys on the command line are readable by every process on "
                          "this machine (/proc/PID/cmdline), the emulator's kernels included",
                          hint=f'put the users in a file (JSON {{"name": "key"}} or name:key lines, chmod 600) and '
                               f"pass --users-file FILE, or export {USERS_ENV}=name:key,name2:key2")
    from kaggle_kit.profiles import image_names

    if image not in image_names():
        raise ConfigError(f"--image {image!r}: no such image profile (known: {', '.join(image_names())})")
    if not store.is_dir():
        raise ConfigError(f"--store {store}: no such folder",
                          hint="make one with `python make_competitions.py DIR` or kaggle_kit.sample_data")
    if not _is_loopback(host):
        if not allow_remote:
            raise ConfigError(f"--host {host} would let any machine that reaches it use the emulator (and run code "
                              "in its kernels)", hint="use --host 127.0.0.1, or add --allow-remote if you mean it")
        typer.echo(f"WARNING: listening on {host}, not loopback: anyone who can reach this port with a user's key "
                   "can run code on this machine through kernels", err=True)
    try:
        users = load_users(users_file) or {"local": "local"}
    except ValueError as exc:
        raise ConfigError(f"cannot read the emulator's users: {exc}") from None
    if users_file is not None and users_file.stat().st_mode & 0o077:
        typer.echo(f"warning: {users_file} is readable by other users; chmod 600 {users_file}", err=True)
    try:
        server = EmulatorServer(store, state, users=users, host=host, port=port,
                                scoring_delay=scoring_delay, log_requests=not quiet)
    except OSError as exc:
        raise ConfigError(f"cannot start the emulator on {host}:{port}: {exc}",
                          hint="pick another --port (0: any free port)") from None
    except ValueError as exc:
        raise ConfigError(f"cannot start the emulator: {exc}") from None
    server.backend.kernels.image = image
    comps = ", ".join(sorted(server.backend.competitions.competitions)) or "none"
    typer.echo(f"Kaggle emulator listening on {server.url}")
    typer.echo(f"  competitions: {comps}\n  state: {server.backend.state_dir}\n"
               f"  users: {', '.join(sorted(users))}\n  kernel sessions run under image profile: {image}\n"
               f"  control API token (/_emulator/faults, calls, rules): {server.admin_token_file}\n"
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


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def accept_rules(
    competition: Annotated[str, typer.Argument(help="Competition slug.", show_default=False)],
    user: Annotated[str, typer.Option("--user", help="The user who accepts the rules.", show_default=False)],
    state: Annotated[Path, typer.Option("--state", help="The emulator's --state folder.", show_default=False)],
    store: Annotated[Optional[Path], typer.Option("--store", help="The emulator's --store (needed when it is not "
                                                  "running).", show_default=False)] = None,
    url: Annotated[Optional[str], typer.Option("--url", help="A running emulator (http://HOST:PORT): accept through "
                                               "its control API, with the token from --state.",
                                               show_default=False)] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Accept COMPETITION's rules for --user (a competition.json with "rules_required": true refuses that user's
    downloads and submissions with 403 until then).

    With --url the running emulator records it (its admin token is read from STATE/admin-token); without, the
    --state folder is changed directly (stop the emulator first: a running one would overwrite it).
    """
    if url is not None:
        import requests

        from kaggle_kit.emulator.responses import ADMIN_HEADER
        from kaggle_kit.emulator.server import ADMIN_TOKEN_FILE

        token_file = state / ADMIN_TOKEN_FILE
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the emulator's admin token {token_file}: {exc.strerror or exc}") from None
        try:
            r = requests.post(f"{url.rstrip('/')}/_emulator/rules", json={"competition": competition, "user": user},
                              headers={ADMIN_HEADER: token}, timeout=30)
        except requests.RequestException as exc:
            raise ConfigError(f"cannot reach the Kaggle emulator at {url}: {exc}") from None
        if r.status_code != 200:
            raise ConfigError(f"the emulator refused: {r.status_code} {r.text.strip()[:300]}")
    else:
        from kaggle_kit.emulator.core import EmulatorError
        from kaggle_kit.emulator.models import EmulatorBackend

        if store is None or not store.is_dir() or not state.is_dir():
            raise ConfigError("without --url, accept-rules needs the emulator's --store and --state folders",
                              hint="or pass --url of the running emulator")
        backend = EmulatorBackend(store, state, users={user: "unused"})
        try:
            backend.competitions.accept_rules(user, competition)
        except EmulatorError as exc:
            raise ConfigError(exc.message) from None
        finally:
            backend.close()
    if as_json:
        emit_json({"competition": competition, "user": user, "accepted": True})
    elif not quiet:
        typer.echo(f"{user} accepted the rules of {competition}")
