"""``sdjobs validate``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .cmd_dupes import BwLimit, Gitignore, SkipDeps, SkipGit, SkipHidden, SkipSystem, rules, run
from .submit import After, Detach, Json, MaxWorkers, Priority

MODES = ("basic", "integrity", "corruption", "complete")
_STYLE = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "dim"}


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
    max_workers: MaxWorkers = None,
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
              "rules": rules(gitignore, skip_system, skip_git, skip_hidden, skip_deps),
              "library": str(state.library().db_path)}
    settings = {"bwlimit": parse_size(bwlimit)} if bwlimit else {}
    rec = run("validate", config, detach=detach, priority=priority, after=after, max_workers=max_workers,
              settings=settings, as_json=as_json)
    from ..jobs._dupes_results import results_of
    from .follow import exit_code

    issues = (results_of(rec.output) or {}).get("issues", [])
    if as_json:
        from .dupes_output import print_compact_json

        summary = {k: v for k, v in rec.output.items() if k != "results"}
        print_compact_json({"job": rec.id, "status": rec.status, "summary": summary, "issues": issues})
    else:
        _table(issues)
    counts = rec.output["counts"]
    bad = counts.get("critical", 0) + counts.get("error", 0)
    raise typer.Exit(1 if bad else int(exit_code(rec)))


def _table(issues: list[dict]) -> None:
    from ..fs.names import display_path

    if not issues:
        sys.stdout.write("no issues found\n")
        return
    kind_w = min(18, max(len(i["kind"]) for i in issues))
    lines = [f"{'SEVERITY':<9} {'KIND':<{kind_w}} PATH", ]
    for i in issues:
        lines.append(f"{i['severity']:<9} {i['kind']:<{kind_w}} {display_path(i['path'])}")
        lines.append(f"{'':<9} {'':<{kind_w}}   {i['message']}; fix: {i['action']}")
    sys.stdout.write("\n".join(lines) + "\n")
