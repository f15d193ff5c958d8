"""``sdjobs validate``."""

from __future__ import annotations

from typing import Annotated

import typer

from .cmd_dupes import (
    BwLimit,
    Gitignore,
    SkipDeps,
    SkipGit,
    SkipHidden,
    SkipSystem,
    rules,
    run,
)
from .submit import After, Detach, Json, MaxWorkers, On, Priority

MODES = ("basic", "integrity", "corruption", "complete")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


def validate(
    paths: Annotated[list[str], typer.Argument(metavar="PATH...", help="Files and directories to check.")],
    mode: Annotated[str, typer.Option("--mode", "-m", metavar="basic|integrity|corruption|complete",
                                      help="basic: missing, drift, empty; integrity: re-hash against the index;"
                                           " corruption: undecodable images, wrong magic bytes; complete: all,"
                                           " plus permissions and names.")] = "basic",
    permissions: Annotated[bool, typer.Option("--permissions", help="Also flag world-writable and unreadable"
                                              " files (always on in complete mode).")] = False,
    gitignore: Gitignore = True, skip_system: SkipSystem = True, skip_git: SkipGit = True,
    skip_hidden: SkipHidden = False, skip_deps: SkipDeps = False, bwlimit: BwLimit = "",
    detach: Detach = False, priority: Priority = 0, as_json: Json = False, after: After = None,
    max_workers: MaxWorkers = None, on: On = None,
) -> None:
    """Check files and report issues by severity, each with a suggested action.

    Exit code 1 when an error or critical issue is found.

    Examples:

      sdjobs validate ~/Photos --mode corruption

      sdjobs index ~/Archive --full-hash && sdjobs validate ~/Archive --mode integrity

      sdjobs validate ~/Shared --mode complete --json
    """
    from ..core.errors import BadInput
    from . import state
    from .units import parse_size

    if mode not in MODES:
        raise BadInput(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    config = {"paths": paths, "mode": mode, "permissions": permissions,
              "rules": rules(gitignore, skip_system, skip_git, skip_hidden, skip_deps)}
    _check_library(config)
    settings = {"bwlimit": parse_size(bwlimit)} if bwlimit else {}
    rec = run("validate", config, detach=detach, priority=priority, after=after, max_workers=max_workers,
              settings=settings, as_json=as_json)
    from .follow import exit_code
    from .jobs_output import render

    render(state.store(), rec, "json" if as_json else "table")  # as `sdjobs jobs output ID` prints it
    raise typer.Exit(int(exit_code(rec)))  # 1 with an error or critical issue: completed-with-errors


def _check_library(config: dict) -> None:
    """What needs the library (integrity: stored hashes), before anything is enqueued."""
    from ..core import registry
    from ..core.fields import build_config
    from ..store.data_plane import library_info
    from . import state

    cls = registry.get("validate")
    cls.check_library(cls.prepare(build_config(cls.Config, dict(config))), library_info(state.store()))
