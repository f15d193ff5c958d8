"""``sdjobs copy``."""

from __future__ import annotations

from typing import Annotated

import typer

from .submit import After, Detach, Json, MaxWorkers, On, Priority, run_job


def register(app: typer.Typer) -> None:
    app.command("copy")(copy)


def copy(
    paths: Annotated[list[str], typer.Argument(metavar="SRC... DST", help="Sources, then the destination.")],
    move: Annotated[bool, typer.Option("--move", help="Move: rename on one filesystem, else copy, verify, remove.")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Hash while copying (xxh3-128) and re-read each copy to compare.")] = False,
    on_conflict: Annotated[str, typer.Option("--on-conflict", metavar="fail|skip|overwrite|rename",
                                             help="When a destination exists. fail lists them and writes nothing.")] = "fail",
    bwlimit: Annotated[str, typer.Option("--bwlimit", metavar="RATE", help="Bytes per second, e.g. 50M.")] = "",
    detach: Detach = False, priority: Priority = 0, as_json: Json = False, after: After = None,
    max_workers: MaxWorkers = None, on: On = None,
) -> None:
    """Copy files and trees like cp -a (symlinks as symlinks, modes and times kept), as a resumable job.

    Every file is written under a temporary name and renamed into place when complete.

    Examples:

      sdjobs copy ~/Photos /mnt/backup --verify

      sdjobs copy a.iso b.iso /mnt/usb --detach

      sdjobs copy --move ~/Downloads/big /data/
    """
    from ..core.errors import BadInput

    if len(paths) < 2:
        raise BadInput("copy needs a source and a destination: sdjobs copy SRC... DST")
    if on_conflict not in ("fail", "skip", "overwrite", "rename"):
        raise BadInput(f"--on-conflict must be fail, skip, overwrite or rename, not {on_conflict!r}")
    settings = {}
    if bwlimit:
        from .units import parse_size

        rate = parse_size(bwlimit)
        if rate >= 2**63:
            raise BadInput(f"--bwlimit {bwlimit!r} is out of range (at most 8 EiB a second)")
        if rate:  # (0: no limit, as with rsync)
            settings["bwlimit"] = rate
    config = {"sources": paths[:-1], "dest": paths[-1], "move": move, "verify": verify, "on_conflict": on_conflict}
    run_job("copy", config, detach=detach, priority=priority, as_json=as_json, after=after,
            max_workers=max_workers, settings=settings)
