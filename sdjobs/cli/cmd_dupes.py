"""``sdjobs dupes``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .submit import After, Detach, Json, MaxWorkers, On, Priority

MODES = ("hash", "deep", "size", "name-size")
THEN = ("none", "trash", "delete", "hardlink")
KEEP = ("first-arg", "oldest", "newest", "shortest-path")

# Walk rule switches shared with validate (the indexer's defaults).
Gitignore = Annotated[bool, typer.Option("--gitignore/--no-gitignore", help="Honour .gitignore files.")]
SkipSystem = Annotated[bool, typer.Option("--skip-system/--no-skip-system",
                                          help="Skip OS clutter (.DS_Store, Thumbs.db, .Trash-*...).")]
SkipGit = Annotated[bool, typer.Option("--skip-git/--no-skip-git", help="Skip .git directories.")]
SkipHidden = Annotated[bool, typer.Option("--skip-hidden/--no-skip-hidden", help="Skip names starting with a dot.")]
SkipDeps = Annotated[bool, typer.Option("--skip-deps/--no-skip-deps",
                                        help="Skip node_modules, __pycache__, .venv, target, build, dist...")]
BwLimit = Annotated[str, typer.Option("--bwlimit", metavar="RATE", help="Read at most RATE bytes/s, e.g. 50M.")]


def register(app: typer.Typer) -> None:
    app.command("dupes")(dupes)


def rules(gitignore: bool, skip_system: bool, skip_git: bool, skip_hidden: bool, skip_deps: bool) -> dict:
    return {"gitignore": gitignore, "skip_system": skip_system, "skip_git": skip_git,
            "skip_hidden": skip_hidden, "skip_deps": skip_deps}


def dupes(
    paths: Annotated[list[str] | None, typer.Argument(
        metavar="PATH...", help="Directories and files to search (with --indexed: only the groups with a file"
                                " of this host under one of them).", show_default=False)] = None,
    mode: Annotated[str, typer.Option("--mode", "-m", metavar="hash|deep|size|name-size",
                                      help="hash: same xxh3-128; deep: also compared byte for byte;"
                                           " size: same size only; name-size: same name and size.")] = "hash",
    min_size: Annotated[str, typer.Option("--min-size", metavar="SIZE",
                                          help="Skip smaller files (default 1: empty files are not duplicates).")] = "1",
    max_size: Annotated[str | None, typer.Option("--max-size", metavar="SIZE", help="Skip larger files.")] = None,
    ext: Annotated[str | None, typer.Option("--ext", metavar="LIST", help="Only these extensions: jpg,png")] = None,
    hardlinks: Annotated[bool, typer.Option("--hardlinks", "-H",
                                            help="Report hard links to one file as duplicates of each other.")] = False,
    no_index: Annotated[bool, typer.Option("--no-index", help="Read every file even where the index knows it.")] = False,
    indexed: Annotated[bool, typer.Option(
        "--indexed", help="From the index alone, reading no file: this host's indexed locations.")] = False,
    all_hosts: Annotated[bool, typer.Option(
        "--all-hosts", help="With --indexed: every host's indexed locations (each file named with its host;"
                            " --then acts on this host's files only).")] = False,
    then: Annotated[str, typer.Option("--then", metavar="trash|delete|hardlink",
                                      help="Keep one file per group and trash, delete or hard-link the rest"
                                           " (a dry run unless --yes or confirmed).")] = "none",
    keep: Annotated[str, typer.Option("--keep", metavar="first-arg|oldest|newest|shortest-path",
                                      help="Which file of a group stays.")] = "first-arg",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Act without asking (with --then).")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="table|fdupes|json",
                                     help="fdupes: paths, groups separated by a blank line.")] = "table",
    gitignore: Gitignore = True, skip_system: SkipSystem = True, skip_git: SkipGit = True,
    skip_hidden: SkipHidden = False, skip_deps: SkipDeps = False, bwlimit: BwLimit = "",
    detach: Detach = False, priority: Priority = 0, as_json: Json = False, after: After = None,
    max_workers: MaxWorkers = None, on: On = None,
) -> None:
    """Find files with identical content, reading as little as possible.

    Files are grouped by size, hard links count as one file, then the first
    4 KiB, the last 4 KiB and the full xxh3-128 are compared, reads spread
    over every core. Unchanged files of an indexed location are answered
    from the index. Symlinks are never followed.

    Examples:

      sdjobs dupes ~/Photos ~/Backup/Photos

      sdjobs dupes ~/Music --ext mp3,flac --min-size 1M --json

      sdjobs dupes ~/Downloads --then trash --keep oldest

      sdjobs dupes . --format fdupes

      sdjobs dupes --indexed --all-hosts ~/Photos
    """
    from ..core.errors import BadInput
    from . import state
    from .units import parse_size

    for name, value, allowed in (("--mode", mode, MODES), ("--then", then, THEN), ("--keep", keep, KEEP),
                                 ("--format", fmt, ("table", "fdupes", "json"))):
        if value not in allowed:
            raise BadInput(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    if as_json:
        fmt = "json"
    config = {"paths": paths or [], "indexed": indexed or all_hosts, "all_hosts": all_hosts, "mode": mode,
              "min_size": parse_size(min_size),
              "max_size": parse_size(max_size) if max_size else None,
              "ext": [e for e in (ext or "").split(",") if e.strip()], "hardlinks": hardlinks,
              "use_index": not no_index, "then": then, "keep": keep, "yes": yes,
              "rules": rules(gitignore, skip_system, skip_git, skip_hidden, skip_deps)}
    settings = {"bwlimit": parse_size(bwlimit)} if bwlimit else {}
    rec = run("dupes", config, detach=detach, priority=priority, after=after, max_workers=max_workers,
              settings=settings, as_json=fmt == "json")
    from .jobs_output import render

    render(state.store(), rec, fmt)  # as `sdjobs jobs output ID --format FMT` prints it
    _maybe_confirm(rec, config, fmt, max_workers=max_workers)


def run(job_type: str, config: dict, *, detach: bool, priority: int, after, max_workers, settings: dict,
        as_json: bool):
    """Submit, start a runner if none is alive, follow; returns the finished record.

    Exits early for --detach (prints the id), a pause (130) and a failed job (1)."""
    from . import output, state
    from .follow import exit_code, report
    from .submit import launch

    rec = launch(job_type, config, detach=detach, priority=priority, as_json=as_json, after=after,
                 max_workers=max_workers, settings=settings)
    store = state.store()
    report(store, rec, as_json=False)
    if rec.status not in ("completed", "completed-with-errors"):
        if as_json:
            output.print_json({"job": rec.id, "status": rec.status, "error": rec.error})
        raise typer.Exit(int(exit_code(rec)))
    return rec


def _maybe_confirm(rec, config: dict, fmt: str, max_workers) -> None:
    """After a dry run of --then: ask on a terminal, else say how to act."""
    from . import output
    from .follow import exit_code

    action = (rec.output or {}).get("action")
    code = int(exit_code(rec))
    if not action or action.get("applied") or not action.get("files"):
        raise typer.Exit(code)
    from ..core import registry

    describe = registry.get("dupes").describe_action

    verb = {"trash": "Move to the trash", "delete": "Permanently delete", "hardlink": "Replace with hard links"}
    if not (sys.stdin.isatty() and sys.stderr.isatty()) or fmt == "json":
        output.err(f"{describe(action)}; nothing was changed: add --yes to act", style="yellow")
        raise typer.Exit(code)
    sys.stderr.write(f"{verb[action['then']]} {action['files']:,} duplicates"
                     f" ({output.human_bytes(action['bytes'])}), keeping the {action['keep']} of each group? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        output.err("nothing was changed", style="yellow")
        raise typer.Exit(1)
    follow_up = {"plan_file": rec.output["results_file"], "then": config["then"], "keep": config["keep"],
                 "yes": True, "mode": config["mode"]}
    done = run("dupes", follow_up, detach=False, priority=0, after=None, max_workers=max_workers, settings={},
               as_json=False)
    raise typer.Exit(int(exit_code(done)))
