"""The ``sdjobs`` command: global options, command groups, one error handler."""

from __future__ import annotations

import copy
import gc
import importlib
import os
import sys
from typing import Annotated

import typer

from .. import __version__
from ..core.errors import BadInput, SdjobsError
from . import state
from .exitcodes import Exit
from .launch import scan
from .groups import NO_DOUBLE_SUGGESTION

# The module of each command; each module has register(app). Only the invoked command's module is
# loaded and registered (typer inspects every registered function at each start), except for
# top-level help, unknown commands and docs generation, which get them all.
COMMANDS = {"copy": "copy", "index": "index", "watch": "index", "locations": "index", "dupes": "dupes",
            "validate": "validate", "delete": "delete", "thumbs": "thumbs", "jobs": "jobs", "runner": "runner",
            "dash": "dash", "run": "run", "types": "run", "schedule": "schedule",
            "config": "config"}
COMMAND_MODULES = list(dict.fromkeys(COMMANDS.values()))


def _version(value: bool) -> None:
    if value:
        print(f"sdjobs {__version__}")
        raise typer.Exit()


def main(
    library: Annotated[str | None, typer.Option(
        "--library", "-L", envvar="SDJOBS_LIBRARY", metavar="PATH",
        help="The library (SQLite file) to use [default: $XDG_DATA_HOME/sdjobs/library.db].")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    state.set_library(library)


def build_app(only: str | None = None, sub: str | None = None) -> typer.Typer:
    """The typer app with every command, or with just the one named ``only`` (and of a group,
    just its subcommand ``sub``)."""
    app = typer.Typer(
        **NO_DOUBLE_SUGGESTION,
        name="sdjobs",
        help="File operations as durable jobs: they report progress, pause, resume and survive crashes.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
        epilog="Examples:\n\n  sdjobs copy ~/Photos /mnt/backup --verify\n\n  sdjobs jobs ls\n\n"
               "  sdjobs jobs pause 12\n\nDocs: man sdjobs",
    )
    app.callback()(main)
    for name in [COMMANDS[only]] if only in COMMANDS else COMMAND_MODULES:
        importlib.import_module(f"{__package__}.cmd_{name}").register(app)
    if only in COMMANDS and sub:
        _only_subcommand(app, only, sub)
    return app


def _only_subcommand(app: typer.Typer, group: str, sub: str) -> None:
    """In group ``group``, keep just subcommand ``sub`` (if it is one): typer converts every
    registered function's signature to click at each start, a few ms per command."""
    for info in app.registered_groups:
        inner = info.typer_instance
        if info.name != group or inner is None:
            continue
        keep = [c for c in inner.registered_commands if (c.name or c.callback.__name__.replace("_", "-")) == sub]
        if keep:
            info.typer_instance = copy.copy(inner)  # the module's own group stays whole
            info.typer_instance.registered_commands = keep
            info.typer_instance.registered_groups = []


# The whole command tree as click's, built once by the command server before it forks a process
# per command (``prebuild``); a command started on its own builds just its own (``build_app``).
_served_tree: typer.core.TyperGroup | None = None


def prebuild() -> None:
    """Build every command's click form now: the command server calls this once, and each process it
    forks for a command runs it as it is. typer converts a command's signature at every build: 6 ms
    for one command, in each served command, on this project's 2-core bench machine. The server
    restarts itself when sdjobs' code or the plugins change, so the tree is never older than its code."""
    global _served_tree
    import typer.main

    tree = typer.main.get_command(build_app())
    assert isinstance(tree, typer.core.TyperGroup)
    _served_tree = tree


def invoked_words(argv: list[str]) -> tuple[str | None, str | None]:
    """The command word and the word after it (a subcommand, perhaps), skipping the global options."""
    return scan(argv)[1:]


def __getattr__(name: str):
    if name == "app":  # the whole command tree, for docs generation and introspection
        return build_app()
    raise AttributeError(name)


def run() -> None:
    try:
        if _served_tree is not None:
            gc.enable()  # (the server's fork: what it made is frozen already)
            _served_tree(prog_name="sdjobs")  # what typer's app() does, once the tree is built
            return
        only, sub = (None, None) if any(k.endswith("_COMPLETE") for k in os.environ) else invoked_words(sys.argv[1:])
        app = build_app(only, sub)
        gc.freeze()  # what the imports made lives until exit: keep the collector off it
        gc.enable()  # (launch.run turned it off for the imports)
        app(prog_name="sdjobs")
    except BadInput as exc:
        _fail(exc, Exit.BAD_INPUT)
    except SdjobsError as exc:
        _fail(exc, Exit.FAILED)
    except KeyboardInterrupt:
        raise SystemExit(Exit.INTERRUPTED) from None
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(Exit.FAILED) from None
    except Exception as exc:  # noqa: BLE001 - the top-level handler: one line for the user, whatever it was
        from ..store.library import storage_fault

        fault = storage_fault(exc, state.library())
        if fault is None:
            raise SystemExit(report_unexpected(exc)) from None
        _fail(fault, Exit.FAILED)
    finally:
        # Interpreter shutdown collects garbage while it tears the modules down; on a
        # short command that took longer than the command (0.05-0.2 s). Frozen objects
        # are skipped; files are still flushed and closed.
        gc.freeze()


def report_unexpected(exc: BaseException) -> int:
    """A defect, not a condition sdjobs knows: one line (the traceback with SDJOBS_DEBUG=1)."""
    import traceback

    if state.debug():
        traceback.print_exception(exc)
        hint = ""
    else:
        hint = " (run with SDJOBS_DEBUG=1 for the traceback)"
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" at {os.path.basename(where[0].filename)}:{where[0].lineno}" if where else ""
    print(f"sdjobs: error: unexpected {type(exc).__name__}{at}: {_clip(str(exc))}{hint}", file=sys.stderr)
    return Exit.FAILED


def _fail(exc: Exception, code: Exit) -> None:
    from . import output

    if state.debug():
        import traceback

        traceback.print_exc()
    output.err(f"sdjobs: error: {_clip(str(exc))}")
    raise SystemExit(code)


def _clip(message: str, limit: int = 2000) -> str:
    """A message stays one readable line, whatever text it quotes."""
    message = " ".join(message.splitlines())
    return message if len(message) <= limit else f"{message[:limit]}… ({len(message):,} characters)"
