"""``sdjobs thumbs``: make thumbnails (``thumbs PATH...``), list them (``thumbs ls PATH``), prune them.

``thumbs`` is a command group whose default command is ``make``: anything
that is not a subcommand name goes to ``make``, so ``sdjobs thumbs ~/Photos``
and ``sdjobs thumbs make ~/Photos`` are the same. The one spelling that
differs is a path literally named ``ls``, ``make`` or ``prune``: write ``./ls``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperGroup

from .submit import After, Detach, Json, MaxWorkers, On, Priority, run_job
from .groups import NO_DOUBLE_SUGGESTION

DEFAULT_COMMAND = "make"


class _DefaultMake(TyperGroup):
    """A group that runs ``make`` when the first word is not one of its commands."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


thumbs = typer.Typer(
    **NO_DOUBLE_SUGGESTION,
    cls=_DefaultMake, no_args_is_help=True,
    help="Thumbnails of images, stored in the library: `thumbs PATH...` makes them, `thumbs ls PATH` lists them,"
         " `thumbs prune` removes those no file refers to.\n\n"
         "`thumbs PATH...` is short for `thumbs make PATH...`; a folder named ls is `./ls`.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(thumbs, name="thumbs")


@thumbs.command(DEFAULT_COMMAND)
def make(
    paths: Annotated[list[str], typer.Argument(metavar="PATH...", help="Images, or folders to search for images.")],
    size: Annotated[list[str] | None, typer.Option(
        "--size", "-s", metavar="PX|NAME|NAME=PX",
        help="Longest side in pixels (repeatable). Named: small 128, grid 256, grid@2x 512, detail 1024. "
             "[default: 256]")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="webp|jpeg|png", help="Sidecar format.")] = "webp",
    quality: Annotated[int, typer.Option("--quality", "-q", min=1, max=100, help="Encoder quality (webp, jpeg).")] = 80,
    regenerate: Annotated[bool, typer.Option("--regenerate", help="Render again even when up to date (e.g. after changing --quality).")] = False,
    freedesktop: Annotated[bool, typer.Option(
        "--freedesktop", help="Also write freedesktop.org thumbnails ($XDG_CACHE_HOME/thumbnails: normal and large, "
                              "x-large/xx-large when a size reaches 512/1024) and fail entries, "
                              "so file managers use them.")] = False,
    detach: Detach = False, priority: Priority = 0, as_json: Json = False, after: After = None,
    max_workers: MaxWorkers = None, on: On = None,
) -> None:
    """Make thumbnails of every image under PATH... (JPEG, PNG, WebP, GIF, BMP, TIFF and whatever
    else Pillow reads), each decoded once for all sizes, spread over all cores.

    Sidecars go to the library's data folder, shared by identical images. Unchanged images that
    already have their thumbnails are skipped. A corrupt, truncated or mislabelled image is an
    error for that file (the job ends completed-with-errors); files that are not images are skipped.

    Examples:

      sdjobs thumbs ~/Photos

      sdjobs thumbs ~/Photos --size grid --size grid@2x --size detail --format webp

      sdjobs thumbs ~/Pictures --freedesktop --detach
    """
    from ..core.errors import BadInput

    if fmt not in ("webp", "jpeg", "png"):
        raise BadInput(f"--format must be webp, jpeg or png, not {fmt!r}")
    config = {"paths": paths, "sizes": size or ["256"], "format": fmt, "quality": quality,
              "regenerate": regenerate, "freedesktop": freedesktop}
    run_job("thumbs", config, detach=detach, priority=priority, as_json=as_json, after=after,
            max_workers=max_workers)


@thumbs.command("ls")
def ls(
    paths: Annotated[list[str] | None, typer.Argument(
        metavar="PATH...", help="Images or folders [default: everything in the library].")] = None,
    failed: Annotated[bool, typer.Option("--failed/--no-failed", help="Include images that failed.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """List the thumbnails recorded for images at or under PATH: one line per thumbnail
    (source, variant, pixels, format, sidecar file), and images that could not be thumbnailed.

    Examples:

      sdjobs thumbs ls ~/Photos

      sdjobs thumbs ls ~/Photos/cat.jpg --json
    """
    from ..store import thumbs_store as ts
    from . import output, state

    store = state.store()
    rows = ts.listing(store, store.library.data_dir, paths or None, include_failed=failed)
    if as_json:
        output.print_json(_grouped(rows))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("SOURCE", "VARIANT", "PIXELS", "FORMAT", "SIDECAR"):
        table.add_column(col, no_wrap=True, overflow="fold")
    for r in rows:
        source = Text(output.shorten(r.source, 10_000))  # a name is text, never markup
        if r.variant is None:
            what = Text(output.safe(f"failed: {r.error}") if r.status == "failed" else "no thumbnails")
            table.add_row(source, "-", "-", "-", what)
        else:
            table.add_row(source, r.variant, f"{r.width}x{r.height}", r.format, Text(output.safe(r.sidecar)))
    if not table.row_count:
        where = " under " + ", ".join(paths) if paths else ""
        output.err(f"no thumbnails recorded{where}", style="dim")
        return
    output.console().print(table)


def _grouped(rows) -> list[dict]:
    out: list[dict] = []
    for r in rows:
        if not out or out[-1]["path"] != r.source:
            out.append({"path": r.source, "cas_id": r.cas_id, "status": r.status, "error": r.error,
                        "thumbnails": []})
        if r.variant is not None:
            out[-1]["thumbnails"].append({
                "variant": r.variant, "size": r.size, "format": r.format, "width": r.width, "height": r.height,
                "path": r.sidecar, "created_at": r.created_at})
    return out



@thumbs.command("prune")
def prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", "-n", help="Only list the sidecars that would go.")] = False,
    missing_folders: Annotated[bool, typer.Option(
        "--missing-folders", help="Also forget images whose folder is missing (by default kept: an unmounted disk?).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Remove the thumbnails no file refers to any more: images deleted or changed since,
    and sidecars a crash left unrecorded. An image still indexed or thumbnailed keeps its own.

    Examples:

      sdjobs thumbs prune --dry-run

      sdjobs thumbs prune --json
    """
    from ..store import thumbs_gc
    from . import output, state

    store = state.store()
    done = thumbs_gc.prune(store, store.library.data_dir, dry_run=dry_run, missing_folders=missing_folders)
    if as_json:
        output.print_json(done.to_dict())
        return
    if dry_run:
        for path in done.sidecars:
            print(output.safe(path))
    verb = "would remove" if dry_run else "removed"
    text = (f"{verb} {done.files:,} sidecar file(s) ({output.human_bytes(done.bytes)}) of {done.thumbnails:,}"
            f" thumbnail(s); {done.sources:,} image(s) gone")
    if done.kept_unreachable:
        text += (f"; kept {done.kept_unreachable:,} whose folder is missing (an unmounted disk?"
                 " --missing-folders forgets them)")
    output.err(text, style="green" if not dry_run else "")
