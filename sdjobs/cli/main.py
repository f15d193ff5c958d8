"""The ``sdjobs`` command: global options, command groups, one error handler."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Optional

import typer

from .. import __version__
from ..core.errors import BadInput, SdjobsError
from . import state
from .exitcodes import Exit

app = typer.Typer(
    name="sdjobs",
    help="File operations as durable jobs: they report progress, pause, resume and survive crashes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Examples:\n\n  sdjobs copy ~/Photos /mnt/backup --verify\n\n  sdjobs jobs ls\n\n"
           "  sdjobs jobs pause 12\n\nDocs: man sdjobs",
)

# One module per command or group; each has register(app).
COMMAND_MODULES = ["copy", "index", "dupes", "validate", "delete", "thumbs", "jobs", "runner",
                   "dash", "run", "schedule"]


def _version(value: bool) -> None:
    if value:
        print(f"sdjobs {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    library: Annotated[Optional[str], typer.Option(
        "--library", "-L", envvar="SDJOBS_LIBRARY", metavar="PATH",
        help="The library (SQLite file) to use [default: $XDG_DATA_HOME/sdjobs/library.db].")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    state.set_library(library)


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"{__package__}.cmd_{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__package__}.cmd_{_name}":
            raise
        continue
    _mod.register(app)


def run() -> None:
    try:
        app(prog_name="sdjobs")
    except BadInput as exc:
        _fail(exc, Exit.BAD_INPUT)
    except SdjobsError as exc:
        _fail(exc, Exit.FAILED)
    except KeyboardInterrupt:
        raise SystemExit(Exit.INTERRUPTED)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(Exit.FAILED)


def _fail(exc: Exception, code: Exit) -> None:
    from . import output

    if state.debug():
        import traceback

        traceback.print_exc()
    output.err(f"sdjobs: error: {exc}")
    raise SystemExit(code)
