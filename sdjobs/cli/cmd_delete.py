"""``sdjobs delete``."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from .submit import After, Detach, Json, MaxWorkers, On, Priority, run_job

MODES = ("trash", "permanent", "secure")


def register(app: typer.Typer) -> None:
    app.command("delete")(delete)


def delete(
    paths: Annotated[list[str], typer.Argument(metavar="PATH...", help="Files and directories to delete.")],
    mode: Annotated[str, typer.Option("--mode", "-m", metavar="trash|permanent|secure",
                                      help="trash: the freedesktop.org trash, restorable from a file manager;"
                                           " permanent: remove; secure: overwrite, then remove.")] = "trash",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before a permanent or secure deletion.")] = False,
    passes: Annotated[int, typer.Option("--passes", min=1, max=35, help="Overwrite passes for --mode secure.")] = 1,
    bwlimit: Annotated[str, typer.Option("--bwlimit", metavar="RATE",
                                         help="At most RATE bytes/s deleted or overwritten, e.g. 20M.")] = "",
    detach: Detach = False, priority: Priority = 0, as_json: Json = False, after: After = None,
    max_workers: MaxWorkers = None, on: On = None,
) -> None:
    """Delete files and trees as a resumable job: to the trash by default.

    Symlinks are deleted as links, never followed. Refuses /, the home
    directory and the library's own files. Permanent and secure deletions
    ask first (showing what will go) unless --yes is given; without a
    terminal they need --yes.

    Examples:

      sdjobs delete ~/Downloads/old.iso

      sdjobs delete build/ dist/ --mode permanent --yes

      sdjobs delete secrets.txt --mode secure --passes 3
    """
    from ..core import registry
    from ..core.errors import BadInput
    from . import output

    if mode not in MODES:
        raise BadInput(f"--mode must be trash, permanent or secure, not {mode!r}")
    config = {"paths": paths, "mode": mode, "passes": passes, "yes": True}
    _check(config)
    if mode == "secure":
        output.err(f"note: {registry.get('delete').secure_note}", style="yellow")
    if mode != "trash" and not yes:
        _confirm(paths, mode)
    settings = {}
    if bwlimit:
        from .units import parse_size

        settings["bwlimit"] = parse_size(bwlimit)
    run_job("delete", config, detach=detach, priority=priority, as_json=as_json, after=after,
            max_workers=max_workers, settings=settings)


def _check(config: dict) -> None:
    """Refusals and missing paths, before anything is asked or enqueued."""
    from ..core import registry
    from ..core.fields import build_config
    from ..store.data_plane import library_info
    from . import state

    cls = registry.get("delete")
    c = cls.prepare(build_config(cls.Config, dict(config)))
    cls.validate(c)
    cls.check_library(c, library_info(state.store()))


def _confirm(paths: list[str], mode: str) -> None:
    from ..core.errors import BadInput
    from ..core.humanize import plural
    from ..fs.tally import count
    from . import output

    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise BadInput(f"refusing a {mode} deletion without --yes: there is no terminal to confirm on")
    files = dirs = nbytes = 0
    for p in paths:
        t = count(p, os.lstat(p))
        files, dirs, nbytes = files + t.files, dirs + t.dirs, nbytes + t.bytes
    verb = "Permanently delete" if mode == "permanent" else "Overwrite and delete"
    what = f"{plural(len(paths), 'item')}: {plural(files, 'file')}"
    if dirs:
        what += f" in {dirs:,} directories"
    sys.stderr.write(f"{verb} {what}, {output.human_bytes(nbytes)}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        output.err("nothing was deleted", style="yellow")
        raise typer.Exit(1)
