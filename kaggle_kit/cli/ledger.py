"""`kk runs` (the run ledger: runs with CV, public/private score, rank and note), `kk runs note`, `kk leaderboard`.

The ledger itself is `kaggle_kit.ledger`; `kk submit` records into it, these commands show it.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from kaggle_kit.cli.common import (
    CompetitionArg,
    JsonOpt,
    KKGroup,
    QuietOpt,
    announce,
    console,
    emit_json,
    err_console,
)
from kaggle_kit.errors import KKError

WideOpt = Annotated[bool, typer.Option("--wide", help="Every column, however wide the terminal (default: the "
                                       "columns that fit).")]
NARROW = 110  # below this many columns `kk runs` leaves out the columns one reads least


class RunsGroup(KKGroup):
    """`kk runs [COMPETITION] [OPTIONS]` lists; `kk runs note ...` is a sub-command.

    Anything that is not a sub-command name goes to `list`, so the listing keeps its old, short form.
    """

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


runs_app = typer.Typer(cls=RunsGroup, help="The run ledger: runs with recipe, CV, public and private score, rank "
                       "at submission and your note. `kk runs [COMPETITION]` lists (options: kk runs list --help); `kk runs note RUN TEXT` tags a run.",
                       no_args_is_help=False, invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
    app.command("leaderboard")(leaderboard_cmd)


def _fmt(x, spec: str = ".5f") -> str:
    return "-" if x is None else format(x, spec)


def _competition(competition: str | None) -> str | None:
    from kaggle_kit.project import load_project

    if competition is None and (project := load_project()):
        return project.competition
    return competition


@runs_app.command("list")
def runs_list_cmd(
    competition: CompetitionArg = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also write a PNG of CV accuracy vs public score across runs "
                                       "(runs/<competition>/cv-vs-public.png).")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="First fetch the latest scores of the recorded "
                                          "submissions from Kaggle (private scores appear after the deadline).")]
    = False,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List runs: id, recipe, CV accuracy, public and private score, rank at submission, your note."""
    from kaggle_kit import ledger
    from kaggle_kit.training.runs import runs_base

    competition = _competition(competition)
    if (refresh or plot) and competition is None:
        raise KKError(f"{'--refresh' if refresh else '--plot'} needs a competition (name one, or run kk init)")
    if refresh:
        from kaggle_kit.kaggle.client import KaggleClient

        ledger.refresh_scores(competition, KaggleClient().submissions(competition))
    rows = ledger.ledger_rows(competition)
    png = ledger.plot_cv_vs_public(rows, runs_base() / competition / "cv-vs-public.png") if plot else None
    if as_json:
        if png is not None:
            err_console.print(f"plot: {png}", soft_wrap=True)  # stdout keeps one shape: the list of runs
        return emit_json([r.to_dict() for r in rows])
    if not rows:
        console.print(f"no runs{' for ' + competition if competition else ''} yet (kk train ...)")
        return
    console.print(runs_table(rows, competition, wide or console.width >= NARROW))
    if png is not None:
        console.print(f"plot: {png}", soft_wrap=True)


def runs_table(rows, competition: str | None, wide: bool) -> Table:
    """The ledger as a table; narrow terminals (and pipes, 80 columns) get the columns a Kaggler reads daily."""
    holdout = wide and any(r.holdout_accuracy is not None for r in rows)
    private = any(r.private_score for r in rows)
    cols: list[tuple[str, dict]] = [("run id", {"no_wrap": True})]
    if wide and competition is None:
        cols.append(("competition", {"overflow": "fold"}))
    # A recipe name folds only when longer than 14 characters: below that, it stays one word.
    cols.append(("recipe", {"overflow": "fold", "min_width": min(14, max(len(r.recipe) for r in rows))}))
    if wide:
        cols += [("model", {"overflow": "fold"}), ("folds", {"justify": "right", "no_wrap": True})]
    cols.append(("CV", {"justify": "right", "no_wrap": True}))
    if holdout:
        cols.append(("hold-out", {"justify": "right", "no_wrap": True}))
    cols.append(("public", {"justify": "right", "no_wrap": True}))
    if private or wide:
        cols.append(("private", {"justify": "right", "no_wrap": True}))
    cols.append(("rank", {"justify": "right", "no_wrap": True}))
    if wide:
        cols.append(("date (UTC)", {"no_wrap": True}))
    cols.append(("note", {"overflow": "fold", "ratio": 1, "min_width": 8}))
    t = Table(title=f"runs{': ' + competition if competition else ''}", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False, collapse_padding=True)
    for name, kw in cols:
        t.add_column(name, **kw)
    for r in rows:
        folds = f"{r.folds_done}/{r.folds_total}"
        cells = {"run id": r.run_id, "competition": r.competition, "recipe": r.recipe, "model": r.model,
                 "folds": folds if r.folds_done == r.folds_total else f"[yellow]{folds}[/]",
                 "CV": _fmt(r.cv_accuracy), "hold-out": _fmt(r.holdout_accuracy),
                 "public": r.public_score or ("pending" if r.submissions else "-"), "private": r.private_score or "-",
                 "rank": f"{r.rank}/{r.teams}" if r.rank else "-", "date (UTC)": r.created.replace("T", " ")[:16],
                 "note": r.note}
        t.add_row(*(cells[name] for name, _ in cols))
    return t


@runs_app.command("note")
def runs_note_cmd(
    run: Annotated[str, typer.Argument(help="The run: its id (as kk runs lists it) or its folder.")],
    text: Annotated[str, typer.Argument(help="The note, e.g. \"rotation 15, swish\" (an empty string clears it).")],
    competition: Annotated[Optional[str], typer.Option("--competition", "-c", help="Look the run id up in this "
                                                       "competition's runs (default: kk.toml's, then every one).",
                                                       show_default=False)] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Set a run's note: a short tag `kk runs` shows beside its scores."""
    from kaggle_kit import ledger

    run_dir = ledger.resolve_run(run, _competition(competition))
    note = ledger.set_note(run_dir, text)
    if as_json:
        return emit_json({"run_id": run_dir.name, "path": str(run_dir), "note": note})
    if not quiet:
        console.print(f"{run_dir.name}: note {note!r}" if note else f"{run_dir.name}: note cleared", soft_wrap=True)


def leaderboard_cmd(
    competition: CompetitionArg = None,
    around_me: Annotated[bool, typer.Option("--around-me", help="Show the teams just above and below you instead of "
                                            "the top.")] = False,
    rows: Annotated[int, typer.Option("--rows", "-n", help="How many teams to show.", min=1)] = 20,
    team: Annotated[Optional[str], typer.Option("--team", help="Your team's name on the board (default: your "
                                                "Kaggle username, else the entry with your best public score).",
                                                show_default=False)] = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a competition's public leaderboard and your position on it."""
    from kaggle_kit import ledger
    from kaggle_kit.kaggle.client import KaggleClient
    from kaggle_kit.project import resolve_competition

    ref = resolve_competition(competition)
    announce(ref, quiet=quiet or as_json)
    client = KaggleClient()
    board = client.competition_leaderboard(ref.slug)
    best = None
    if team is None and not any(e.team_name.lower() == (client.username or "").lower() for e in board):
        scored = [s.public_score for s in client.submissions(ref.slug) if s.public_score]
        if scored:
            best = (max if ledger.higher_is_better(board) else min)(scored, key=float)
    me = ledger.my_standing(board, client.username, team, best)
    shown = ledger.around(board, me.entry, rows) if around_me else board[:rows]
    if as_json:
        return emit_json({"competition": ref.slug, "teams": len(board),
                          "me": None if me.entry is None else {**_row(me.entry), "matched_by": me.matched_by},
                          "rows": [_row(e) for e in shown]})
    t = Table(title=f"{ref.slug} public leaderboard ({len(board)} teams)", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False)
    t.add_column("rank", justify="right", no_wrap=True)
    t.add_column("team", overflow="fold")
    t.add_column("score", justify="right", no_wrap=True)
    t.add_column("date (UTC)", no_wrap=True)
    for e in shown:
        mine = me.entry is not None and e == me.entry
        t.add_row(str(e.rank), f"[bold]{e.team_name} (you)[/]" if mine else e.team_name, e.score or "-",
                  (e.date or "")[:16].replace("T", " "))
    if not quiet:
        console.print(t)
    if me.entry is None:
        console.print("you: not on the public leaderboard yet (submit with kk submit --wait)", soft_wrap=True)
    else:
        how = "" if me.matched_by == "team name" else " (found by your best public score; --team NAME to be exact)"
        console.print(f"you: rank [bold]{me.entry.rank}[/] of {len(board)}, score {me.entry.score}{how}",
                      soft_wrap=True)


def _row(e) -> dict:
    return {"rank": e.rank, "team": e.team_name, "score": e.score, "date": e.date}

