"""`kk demo`: the whole loop offline on the embedded emulator, ending with a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kaggle_kit.cli.common import console


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


REAL_KAGGLE = """\
kk init digit-recognizer --owner YOUR_KAGGLE_NAME
kk download digit-recognizer
kk train --folds 5                                  # or: kk push-kernel train --gpu --wait
kk upload-weights runs/digit-recognizer/<run-id>
kk push-kernel inference --weights YOUR_KAGGLE_NAME/digit-recognizer-kk-weights --no-internet --wait
kk submit --kernel YOUR_KAGGLE_NAME/<kernel-slug> --wait"""


def demo(
    workdir: Annotated[Path, typer.Option(help="Folder for the demo's project, emulator state and outputs "
                                               "(wiped first).")] = Path("kk-demo"),
    epochs: Annotated[int, typer.Option(help="Epochs per fold.")] = 12,
    folds: Annotated[int, typer.Option(help="Number of folds K to train.")] = 2,
) -> None:
    """Run the whole loop offline: download, train, upload weights, offline inference kernel, submit."""
    from kaggle_kit.demo import run_demo

    s = run_demo(workdir, echo=console.print, epochs=epochs, folds=folds)
    body = (
        f"CV accuracy ({folds} folds):  [bold]{s['cv_accuracy']:.4f}[/]\n"
        f"public score:            [bold]{s['public_score']:.4f}[/]  (submission {s['submission_ref']})\n"
        f"run folder:              {s['run_dir']}\n"
        f"plots:                   {s['plots_dir']}\n"
        f"submission:              {s['submission']}\n"
        f"weights dataset:         {s['weights_dataset']}   kernel: {s['kernel']}\n"
        f"wall time:               {s['wall_seconds']:.0f} s\n\n"
        f"[dim]The same on kaggle.com (credentials in ~/.kaggle/kaggle.json, see README):[/]\n{REAL_KAGGLE}"
    )
    console.rule("kk demo: done")
    console.print(body)  # plain lines, not a panel: a box would crop long paths on narrow terminals
