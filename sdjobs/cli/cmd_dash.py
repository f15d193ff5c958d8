"""``sdjobs dash``: the live dashboard (Textual is imported only when it runs)."""

from __future__ import annotations

from typing import Annotated

import typer

from . import state


def register(app: typer.Typer) -> None:
    app.command("dash")(dash)


def dash(
    job: Annotated[int | None, typer.Option("--job", "-j", metavar="ID",
                                               help="Open the details of this job first.")] = None,
    theme: Annotated[str, typer.Option("--theme", metavar="NAME",
                                       help="A Textual theme; the default uses the terminal's own colours.")]
    = "ansi-dark",
) -> None:
    """A live dashboard of every job: progress, details, logs; pause, resume, cancel, retry.

    Keys: p pause, r resume, c cancel, R retry, +/- priority, enter details, / search, # go to,
    s status filter, o sort, h history, f follow new jobs, space fold, ctrl+p commands, ? help, q quit.
    Jobs run in a runner, not in the dashboard.

    Example: sdjobs dash --job 12
    """
    import sys

    from ..core.errors import BadInput

    store = state.store()
    if job is not None:
        store.get(job)  # an unknown id is bad input (exit 2), not an empty screen
    from textual.theme import BUILTIN_THEMES

    if theme not in BUILTIN_THEMES:
        raise BadInput(f"unknown theme {theme!r} (one of: {', '.join(sorted(BUILTIN_THEMES))})")
    for stream in (sys.stdin, sys.stdout):
        if not stream.isatty():
            raise BadInput(f"sdjobs dash needs a terminal ({stream.name} is not one);"
                           " for a list of jobs: sdjobs jobs ls")
    from ..core import registry

    try:
        registry.load_all()  # plugin warnings reach the terminal before the screen takes it over
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not keep the dashboard from opening
        from . import output

        output.err(f"sdjobs: warning: loading job types: {exc}", style="yellow")
    from ..tui.app import DashApp

    DashApp(store, job=job, theme=theme, library=str(store.library.db_path)).run()
