"""The `kk` command line: thin commands that parse, call `kaggle_kit`, and render with rich.

Each area registers its commands from its own module (`kaggle_kit/cli/<area>.py`, a `register(app)`
function); the areas are listed below explicitly, in workflow order (the order `kk --help` shows).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kaggle_kit import __version__, tf_logging
from kaggle_kit.cli import data, demo, emulator, kaggle, kernels, ledger, training
from kaggle_kit.cli.common import KKGroup, console

app = typer.Typer(
    cls=KKGroup,
    name="kk",
    help="kaggle-kit: from a Kaggle image-classification competition's raw data to a scored submission.\n\n"
    "New here? `make demo` runs the whole loop offline against the bundled Kaggle emulator.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
)

# Workflow order: the order `kk --help` lists them in.
AREAS = (data, kaggle, training, ledger, kernels, emulator, demo)


def _version(value: bool) -> None:
    if value:
        console.print(f"kk (kaggle-kit) {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", envvar=tf_logging.VERBOSE_ENV,
                                          help="Show TensorFlow's C++ logs (hidden by default).")] = False,
) -> None:
    """kaggle-kit (kk)."""
    if verbose:
        tf_logging.loud()


for _area in AREAS:
    _area.register(app)


def main() -> None:
    # First, before any command imports TensorFlow; the environment it sets reaches kk's child processes too.
    tf_logging.quiet()
    app()
