"""The run ledger: which run each submission came from, what it scored, where it ranked, and the user's note.

Each run folder keeps its own `ledger.json` (it travels with the run, and is not an artifact: `manifest.json`
does not cover it, so a note never invalidates a run's weights):

    {"note": "bigger rotation, 15 deg",
     "submissions": [{"ref": 12, "date": "...", "source": "file", "file": ".../submission.csv",
                      "kernel": null, "kernel_version": null, "message": "", "status": "COMPLETE",
                      "public_score": "0.99100", "private_score": null, "rank": 3, "teams": 41}]}

`rank` is where the submission's public score placed among the leaderboard's teams when it was scored
(`teams` of them), so a later look at `kk runs` shows how good the run was at the time.

Example:

    run = run_for_file("runs/digit-recognizer/20261122-053012-default/submission.csv")
    record_submission(run, LedgerEntry(ref=12, source="file", file="submission.csv"))
    set_note(run, "first try")
    [r.public_score for r in ledger_rows("digit-recognizer")]
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from kaggle_kit.errors import KKError
from kaggle_kit.io import atomic_write_json
from kaggle_kit.training import runs

LEDGER_FILE = runs.LEDGER_FILE
KERNEL_RESULT_FILE = "kk-result.json"  # what kk's kernels write; an inference kernel's names the run it used


@dataclass(frozen=True)
class LedgerEntry:
    """One submission made from a run. Scores are strings, as Kaggle sends them."""

    ref: int
    source: str = "file"  # "file" or "kernel"
    date: str = ""
    file: str | None = None
    kernel: str | None = None
    kernel_version: int | None = None
    message: str = ""
    status: str = "PENDING"
    public_score: str | None = None
    private_score: str | None = None
    rank: int | None = None
    teams: int | None = None

    @classmethod
    def from_dict(cls, d: dict) -> LedgerEntry:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class RunRow(runs.RunSummary):
    """One line of `kk runs`: the run's summary and what its latest scored (else latest) submission got."""

    note: str = ""
    submissions: int = 0
    public_score: str | None = None
    private_score: str | None = None
    rank: int | None = None
    teams: int | None = None
    ledger: list[dict] = field(default_factory=list)


# -- which run a submission came from ---------------------------------------------------------------------------


def run_for_file(path: str | Path) -> Path | None:
    """The run folder holding `path` (a submission written by `kk predict` inside it), or None."""
    p = Path(path).resolve()
    for parent in p.parents:
        if runs.is_run_dir(parent):
            return parent
    return None


def resolve_run(run: str | Path, competition: str | None = None) -> Path:
    """A run given as a folder or as a run id (looked up in runs/<competition>/, then in every competition)."""
    path = Path(run)
    if runs.is_run_dir(path):
        return path
    found = [Path(s.path) for s in runs.list_runs(competition) if s.run_id == str(run)]
    if not found and competition is not None:
        found = [Path(s.path) for s in runs.list_runs() if s.run_id == str(run)]
    if len(found) == 1:
        return found[0]
    if found:
        raise KKError(f"run {run!r} is ambiguous: {', '.join(str(f) for f in found)}", hint="Pass the run folder.")
    raise KKError(f"run {run!r} not found" + (f" in runs/{competition}/" if competition else ""),
                  hint="`kk runs` lists the run ids; a run folder path works too.")


def kernel_run_id(client, kernel: str, version: int | None = None) -> str | None:
    """The run id an inference kernel predicted with, from its `kk-result.json` (None if it has none)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kk-kernel-result-") as tmp:
        files = client.kernel_output(kernel, tmp, version=version, pattern=f"^{KERNEL_RESULT_FILE}$")
        for f in files:
            if f.name == KERNEL_RESULT_FILE:
                data = runs.read_json(f) or {}
                return str(data["run_id"]) if data.get("run_id") else None
    return None


def run_of_submission(competition: str, file: Path | None = None, run: str | None = None,
                      kernel_run: str | None = None) -> Path | None:
    """The run a submission is recorded under: `--run` first, else the file's run folder, else the kernel's run."""
    if run is not None:
        return resolve_run(run, competition)
    if file is not None:
        return run_for_file(file)
    if kernel_run is not None:
        try:
            return resolve_run(kernel_run, competition)
        except KKError:  # trained and published elsewhere: no local run to record it under
            return None
    return None


# -- the ledger file ---------------------------------------------------------------------------------------------


def read_ledger(run_dir: str | Path) -> dict:
    data = runs.read_json(Path(run_dir) / LEDGER_FILE) or {}
    return {"note": str(data.get("note") or ""), "submissions": list(data.get("submissions") or [])}


def _write(run_dir: Path, data: dict) -> None:
    atomic_write_json(Path(run_dir) / LEDGER_FILE, data)


def entries(run_dir: str | Path) -> list[LedgerEntry]:
    return [LedgerEntry.from_dict(d) for d in read_ledger(run_dir)["submissions"]]


def record_submission(run_dir: str | Path, entry: LedgerEntry) -> LedgerEntry:
    """Add (or, same ref, replace) a submission in the run's ledger; dated now when it has no date."""
    if not entry.date:
        entry = replace(entry, date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    data = read_ledger(run_dir)
    subs = [s for s in data["submissions"] if s.get("ref") != entry.ref]
    data["submissions"] = [*subs, asdict(entry)]
    _write(Path(run_dir), data)
    return entry


def set_note(run_dir: str | Path, note: str) -> str:
    data = read_ledger(run_dir)
    data["note"] = note.strip()
    _write(Path(run_dir), data)
    return data["note"]


def refresh_scores(competition: str, submissions) -> int:
    """Copy status and scores from Kaggle's submission list (`KaggleClient.submissions`) into every run's ledger
    (a private score appears once the competition ends); returns how many entries changed."""
    by_ref = {s.ref: s for s in submissions}
    changed = 0
    for summary in runs.list_runs(competition):
        run_dir = Path(summary.path)
        data = read_ledger(run_dir)
        dirty = False
        for d in data["submissions"]:
            s = by_ref.get(d.get("ref"))
            if s is None:
                continue
            new = {"status": str(s.status), "public_score": s.public_score, "private_score": s.private_score}
            if any(d.get(k) != v for k, v in new.items()):
                d.update(new)
                dirty = True
                changed += 1
        if dirty:
            _write(run_dir, data)
    return changed


# -- where a score stands ----------------------------------------------------------------------------------------


def _num(score: str | None) -> float | None:
    try:
        return float(score) if score not in (None, "") else None
    except ValueError:
        return None


def higher_is_better(board) -> bool:
    """The board's direction, read from its order (best first); accuracy-like (higher) when it cannot tell."""
    scores = [x for x in (_num(e.score) for e in board) if x is not None]
    return not (len(scores) >= 2 and scores[0] < scores[-1])


def rank_of(score: str | None, board, team: str | None = None) -> tuple[int | None, int]:
    """(rank, teams): where `score` places on `board` (1 + the other teams strictly better), and how many teams
    there are with it; `team` is the user's own entry, not counted against them."""
    value = _num(score)
    others = [e for e in board if not (team and e.team_name.lower() == team.lower())]
    if value is None:
        return None, len(board)
    up = higher_is_better(board)
    better = sum(1 for e in others if (x := _num(e.score)) is not None and (x > value if up else x < value))
    return better + 1, len(others) + 1


@dataclass(frozen=True)
class Standing:
    """The user's place on a leaderboard: their entry (None when not on it), and how it was found."""

    entry: object | None
    teams: int
    matched_by: str  # "team name" | "best score" | ""


def my_standing(board, username: str | None, team: str | None = None, best_score: str | None = None) -> Standing:
    """Find the user on `board`: by team name (`team`, else the username), else by their best public score."""
    for name in (team, username):
        if name:
            for e in board:
                if e.team_name.lower() == name.lower():
                    return Standing(e, len(board), "team name")
    value = _num(best_score)
    if value is not None:
        for e in board:
            if _num(e.score) == value:
                return Standing(e, len(board), "best score")
    return Standing(None, len(board), "")


def around(board, entry, rows: int = 11) -> list:
    """`rows` rows of `board` centred on `entry` (the top when `entry` is None)."""
    if entry is None:
        return list(board[:rows])
    start = max(0, min(board.index(entry) - rows // 2, len(board) - rows))
    return list(board[start:start + rows])


def record(client, competition: str, run_dir: str | Path, ref: int, sub=None, file: str | Path | None = None,
           kernel: str | None = None, kernel_version: int | None = None, message: str = "") -> LedgerEntry:
    """Record submission `ref` under `run_dir`; once scored (`sub`, a `Submission`), with where its public score
    places on the leaderboard now. A leaderboard that cannot be read leaves the rank unknown, never fails."""
    entry = LedgerEntry(ref=int(ref), source="kernel" if kernel else "file",
                        file=str(file) if file is not None else None, kernel=kernel, kernel_version=kernel_version,
                        message=message)
    if sub is not None:
        entry = replace(entry, status=str(sub.status), public_score=sub.public_score, private_score=sub.private_score)
    if entry.public_score is not None:
        try:
            board = client.competition_leaderboard(competition)
        except KKError:
            board = None
        if board is not None:
            rank, teams = rank_of(entry.public_score, board, team=client.username)
            entry = replace(entry, rank=rank, teams=teams)
    return record_submission(run_dir, entry)


# -- kk runs ----------------------------------------------------------------------------------------------------


def ledger_rows(competition: str | None = None, base: str | Path | None = None) -> list[RunRow]:
    """Every run (oldest first) with its note and its latest scored submission's scores and rank."""
    out = []
    for s in runs.list_runs(competition, base):
        data = read_ledger(s.path)
        subs = [LedgerEntry.from_dict(d) for d in data["submissions"]]
        subs.sort(key=lambda e: (e.date, e.ref))
        scored = [e for e in subs if e.public_score is not None]
        latest = scored[-1] if scored else (subs[-1] if subs else None)
        out.append(RunRow(**s.to_dict(), note=data["note"], submissions=len(subs),
                          public_score=latest.public_score if latest else None,
                          private_score=latest.private_score if latest else None,
                          rank=latest.rank if latest else None, teams=latest.teams if latest else None,
                          ledger=[asdict(e) for e in subs]))
    return out


def plot_cv_vs_public(rows: list[RunRow], out: str | Path) -> Path:
    """A PNG of CV accuracy against public score, one labelled point per run that has both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(r.cv_accuracy, _num(r.public_score), r.note or r.run_id) for r in rows
              if r.cv_accuracy is not None and _num(r.public_score) is not None]
    if not points:
        raise KKError("no run has both a CV accuracy and a public score yet",
                      hint="Submit a run's predictions: kk submit --file runs/<competition>/<run-id>/submission.csv "
                           "--wait")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 5))
    xs, ys, labels = zip(*points)
    ax.scatter(xs, ys)
    for x, y, label in points:
        ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    lo, hi = min(xs + ys), max(xs + ys)
    ax.plot([lo, hi], [lo, hi], linestyle="--", linewidth=0.8, color="grey")  # CV = public: above it, CV is pessimistic
    ax.set_xlabel("CV accuracy")
    ax.set_ylabel("public score")
    ax.set_title(f"CV vs public score ({len(points)} runs)")
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(out)
    return out

