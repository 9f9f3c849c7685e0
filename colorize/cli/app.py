"""The Typer application: one module per command, registered here."""

from __future__ import annotations

import os
import sys

import typer

from colorize import __version__
from colorize.cli import eval as eval_cmd
from colorize.cli import export, folder, models, train, tune, video

app = typer.Typer(
    name="colorize",
    help="Colorize black-and-white photos, scan folders and films.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"colorize {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Colorize black-and-white photos, scan folders and films."""


folder.register(app)
video.register(app)
models.register(app)
export.register(app)
train.register(app)
tune.register(app)
eval_cmd.register(app)

# the command list shows each command's first sentence, on one line however the docstring
# is wrapped
for _info in app.registered_commands:
    if _info.short_help is None:
        _text = " ".join((_info.help or _info.callback.__doc__ or "").split())
        _info.short_help = _text.split(". ")[0].rstrip(".") + "."


# exit codes: 0 done, 1 some input failed (each named on its own line), 2 bad usage or
# input, 3 a bug in colorize, 130 interrupted
BUG_EXIT = 3


def main() -> None:
    try:
        app()
    except Exception as exc:  # every expected failure is reported (and exits) by its command
        if os.environ.get("COLORIZE_TRACEBACK"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {first} (a bug in colorize: "
                         f"please report it with the command; COLORIZE_TRACEBACK=1 shows "
                         f"where it happened)\n")
        sys.exit(BUG_EXIT)
