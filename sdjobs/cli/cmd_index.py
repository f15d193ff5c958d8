"""``sdjobs index``, ``sdjobs locations`` and ``sdjobs watch``."""

from __future__ import annotations

from typing import Annotated

import typer

from ..core.humanize import plural
from .submit import After, Detach, Json, MaxWorkers, On, Priority, run_job
from .groups import NO_DOUBLE_SUGGESTION

locations = typer.Typer(**NO_DOUBLE_SUGGESTION, help="Indexed locations: list them, forget one.",
                        invoke_without_command=True)

ModeOpt = Annotated[str | None, typer.Option(
    "--mode", "-m", metavar="shallow|content|deep",
    help="shallow: metadata only; content (default for a new location): plus a content id per file;"
         " deep: plus kind, image size and EXIF date. A re-index keeps the recorded mode.")]
FullHash = Annotated[bool | None, typer.Option(
    "--full-hash/--no-full-hash", help="Also store the full xxh3-128 of every file (used by validate).")]
SkipSystem = Annotated[bool | None, typer.Option(
    "--skip-system/--no-skip-system", help="Skip OS clutter: .DS_Store, Thumbs.db, lost+found, .Trash-* [on].")]
SkipGit = Annotated[bool | None, typer.Option("--skip-git/--no-skip-git", help="Skip .git [on].")]
GitignoreOpt = Annotated[bool | None, typer.Option("--gitignore/--no-gitignore", help="Honour .gitignore files [on].")]
SkipHidden = Annotated[bool | None, typer.Option("--skip-hidden/--no-skip-hidden", help="Skip dot files [off].")]
SkipDeps = Annotated[bool | None, typer.Option(
    "--skip-deps/--no-skip-deps", help="Skip node_modules, __pycache__, .venv, target, build, dist... [off].")]
_MODES = ("shallow", "content", "deep")
HostOpt = Annotated[str | None, typer.Option(
    "--host", metavar="HOST", help="Only this host's locations (a host id, as the HOST column shows it).")]


def register(app: typer.Typer) -> None:
    app.command("index")(index)
    app.command("watch")(watch)
    app.add_typer(locations, name="locations")


def _rules(**flags: bool | None) -> dict:
    return {k: v for k, v in flags.items() if v is not None}


def _check_mode(mode: str | None) -> None:
    from ..core.errors import BadInput

    if mode is not None and mode not in _MODES:
        raise BadInput(f"--mode must be shallow, content or deep, not {mode!r}")


def index(
    path: Annotated[str, typer.Argument(metavar="PATH",
                                        help="A directory; or a path inside an indexed location to refresh it.")],
    mode: ModeOpt = None,
    full_hash: FullHash = None,
    depth: Annotated[int | None, typer.Option("--depth", metavar="N",
                                                 help="Descend at most N levels below PATH (-1: no limit).")] = None,
    recurse: Annotated[bool | None, typer.Option("--recurse/--no-recurse",
                                                    help="--no-recurse: this directory only.")] = None,
    ephemeral: Annotated[bool, typer.Option("--ephemeral", help="Walk and summarise without writing the library;"
                                            " with --json, a stream of entries (JSON lines).")] = False,
    skip_system: SkipSystem = None, skip_git: SkipGit = None, gitignore: GitignoreOpt = None,
    skip_hidden: SkipHidden = None, skip_deps: SkipDeps = None,
    thumbs: Annotated[bool, typer.Option("--thumbs", help="Then make thumbnails of its images, as a child"
                                         " `thumbs` job (with --mode deep: `sdjobs index ~/Photos --mode deep --thumbs`).")] = False,
    detach: Detach = False, priority: Priority = 0, as_json: Json = False, after: After = None,
    max_workers: MaxWorkers = None, on: On = None,
) -> None:
    """Index a directory into the library, or refresh an indexed one (incremental: unchanged files are not read).

    Entries (files, directories, symlinks) are recorded with their metadata; new, modified, moved and deleted
    entries are counted on a re-index. Rules, mode and depth are recorded with the location and reused.

    Examples:

      sdjobs index ~/Photos --mode deep

      sdjobs index ~/src --skip-deps --skip-hidden --mode shallow

      sdjobs index ~/Photos/2024          (refresh part of an indexed location)

      sdjobs index /mnt/usb --ephemeral --json | head
    """
    _check_mode(mode)
    rules = _rules(skip_system=skip_system, skip_git=skip_git, gitignore=gitignore, skip_hidden=skip_hidden,
                   skip_deps=skip_deps)
    if ephemeral:
        from .index_ephemeral import run_ephemeral

        run_ephemeral(path, mode=mode or "shallow", full_hash=bool(full_hash), depth=depth, recurse=recurse,
                      rules=rules, as_json=as_json, workers=max_workers)
        return
    from ..core import registry

    Index = registry.get("index")
    config = Index.prepare(Index.Config(path=path, mode=mode, full_hash=full_hash, depth=depth, recurse=recurse,
                                        rules=rules, thumbs=thumbs))
    Index.validate(config)
    after = list(after or []) + _conflicting(config, depth=depth, recurse=recurse)
    run_job("index", config, detach=detach, priority=priority, as_json=as_json, after=after,
            max_workers=max_workers)


def _conflicting(config, *, depth, recurse) -> list[int]:
    """Refuse settings that belong to an enclosing location; return the index jobs
    (queued or running) of the same location this one must wait for."""
    from ..core.errors import BadInput
    from ..store.data_plane import open_data_plane
    from . import state

    store = state.store()
    loc = open_data_plane(store).find_location(config.path)
    if loc is not None and loc.path != config.path:
        differ = [k for k, v in config.rules.items() if loc.rules.get(k) != v]
        if depth is not None or recurse is not None:
            differ.append("depth" if depth is not None else "recurse")
        if differ:
            raise BadInput(f"{config.path!r} is inside the location {loc.path!r}, whose rules and depth apply;"
                           f" to change {differ[0]!r}, index {loc.path!r} itself")
    return store.index_jobs_over(config.path if loc is None else loc.path)


@locations.callback()
def locations_main(ctx: typer.Context, as_json: Json = False, host: HostOpt = None) -> None:
    """Indexed locations of every host with entry counts, total size, last indexed and the changes of
    the last run. A location belongs to the host whose runner indexed it (its paths are that host's;
    HOST ends with * for this host).

    Examples:

      sdjobs locations

      sdjobs locations --host nas --json

      sdjobs locations rm ~/old-disk
    """
    if ctx.invoked_subcommand is None:
        ls(as_json=as_json, host=host)


@locations.command("ls")
def ls(as_json: Json = False, host: HostOpt = None) -> None:
    """List indexed locations (the default of `sdjobs locations`)."""
    from ..core.hostid import this_host
    from ..store.data_plane import open_data_plane
    from . import output, state

    data = open_data_plane(state.store())
    here = this_host()
    rows = []
    for loc in data.list_locations(host=host):
        active = data.active_runs(loc.id)
        rows.append({"id": loc.id, "host": loc.host, "this_host": loc.host == here, "path": loc.path,
                     "entries": loc.entries, "bytes": loc.total_size,
                     "mode": loc.mode, "full_hash": loc.full_hash, "rules": loc.rules, "depth": loc.max_depth,
                     "recurse": loc.recurse, "created_at": loc.created_at, "indexed_at": loc.indexed_at,
                     "last_changes": loc.last_changes, "last_job": loc.last_job_id,
                     "indexing": active[0] if active else None})
    if as_json:
        output.print_json(rows)
        return
    if not rows:
        output.err(f"no indexed locations{f' on host {host!r}' if host else ''}; add one with: sdjobs index PATH",
                   style="dim")
        return
    from rich.table import Table
    from rich.text import Text

    from ..fs.names import display_path

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("HOST", "PATH", "ENTRIES", "SIZE", "MODE", "INDEXED", "LAST CHANGES", "STATUS"):
        table.add_column(col, justify="right" if col in ("ENTRIES", "SIZE") else "left", no_wrap=col != "PATH")
    for r in rows:
        ch = r["last_changes"] or {}
        changes = " ".join(f"{sign}{ch.get(k, 0):,}" for sign, k in
                           (("+", "new"), ("~", "modified"), (">", "moved"), ("-", "deleted")))
        status = f"indexing (job {r['indexing']})" if r["indexing"] else ("" if r["indexed_at"] else "incomplete")
        table.add_row(Text(r["host"] + (" *" if r["this_host"] else "")), Text(display_path(r["path"])),
                      f"{r['entries']:,}", output.human_bytes(r["bytes"]),
                      r["mode"] + (" +full" if r["full_hash"] else ""), output.human_age(r["indexed_at"]),
                      changes if r["indexed_at"] else "", status, style=None)
    output.console().print(table)


@locations.command("rm")
def rm(path: Annotated[str, typer.Argument(metavar="PATH", help="The root of an indexed location.")],
       as_json: Json = False,
       host: Annotated[str | None, typer.Option(
           "--host", metavar="HOST", help="Forget another host's location: PATH exactly as `sdjobs locations`"
                                          " shows it (a host that is gone, for example).")] = None) -> None:
    """Forget an indexed location and its entries (the files are not touched).

    Examples:

      sdjobs locations rm ~/old-disk

      sdjobs locations rm --host old-nas /data
    """
    import os

    from ..core.errors import BadInput, NotFound
    from ..core.hostid import this_host
    from ..store.data_plane import open_data_plane
    from ..store.index_store import canonical
    from . import output, state

    data = open_data_plane(state.store())
    if host is not None and host != this_host():
        loc = next((x for x in data.list_locations(host=host) if x.path == path), None)
        if loc is None:
            raise NotFound(f"host {host!r} has no indexed location {path!r}; see: sdjobs locations --host {host}")
    else:
        loc = data.find_location(path)
        real = canonical(path)
        if loc is None or loc.path != real:
            hint = f" (it is inside the location {loc.path!r})" if loc else ""
            raise NotFound(f"{os.path.abspath(path)!r} is not an indexed location of this host{hint};"
                           " see: sdjobs locations")
    running = data.running_index_jobs(loc.id)
    if running:
        raise BadInput(f"job {running[0]} is indexing {loc.path!r}; cancel it first: sdjobs jobs cancel {running[0]}")
    n = data.remove_location(loc.id)
    if as_json:
        output.print_json({"path": loc.path, "host": loc.host, "entries": n})
    else:
        output.err(f"forgot {loc.path} ({plural(n, 'entry', 'entries')})", style="green")


def watch(
    paths: Annotated[list[str], typer.Argument(metavar="PATH...", help="Directories to keep indexed.")],
    debounce: Annotated[int, typer.Option("--debounce", metavar="MS", min=10,
                                          help="Gather changes for this long before refreshing.")] = 500,
    mode: ModeOpt = None, full_hash: FullHash = None,
    skip_system: SkipSystem = None, skip_git: SkipGit = None, gitignore: GitignoreOpt = None,
    skip_hidden: SkipHidden = None, skip_deps: SkipDeps = None,
    priority: Priority = 0,
) -> None:
    """Keep locations fresh: on changes, queue incremental index jobs for just the changed paths.

    A path that is not indexed yet is indexed first (with the given mode and rules). Runs until Ctrl-C;
    each refresh is an ordinary job (see `sdjobs jobs ls`).

    Examples:

      sdjobs watch ~/Photos ~/Documents

      sdjobs watch ~/src --skip-deps --mode shallow --debounce 2000
    """
    _check_mode(mode)
    from ..runner.daemon import ensure_runner
    from ..watch import Watcher
    from . import state
    from .submit import submit

    rules = _rules(skip_system=skip_system, skip_git=skip_git, gitignore=gitignore, skip_hidden=skip_hidden,
                   skip_deps=skip_deps)
    store, lib = state.store(), state.library()

    def submit_index(config: dict, root: str) -> int:
        """One index job for ``root``, after the index jobs already queued or running there."""
        job_id = submit("index", config, priority=priority, after=sorted(set(store.index_jobs_over(root))),
                        inputs={"watch": root, **config})
        ensure_runner(store)
        return job_id

    Watcher(paths, store=store, ignored=(str(lib.db_path), str(lib.data_dir)), submit=submit_index,
            debounce_ms=debounce, mode=mode, full_hash=full_hash, rules=rules).run()
