"""``sdjobs jobs ls``: what it reads (``gather``) and how it shows it (``show``), and its fast
path with no runner alive (``fast``).

With no runner alive no command server answers, and `jobs ls` would pay typer's and click's
imports (about 50 ms of CPU) and peewee's (30 ms) for a listing that takes a few ms. So the
entry point (cli/launch.py) hands a plain ``jobs ls`` to ``fast``: it reads its few options
itself, opens the library with the store's reader (store/reader.py: ``Store``'s verbs over a
plain sqlite3 connection) and runs the very ``gather`` and ``show`` that the typer command
runs. Whatever it does not handle itself it leaves, before it has printed anything, to the
full CLI: help, an option it does not know or a value it would have to judge (click's and
the command's error messages stay theirs), a library that is not there yet or must be
migrated, jobs to recover from a dead runner (a write), a PostgreSQL library.
"""

from __future__ import annotations

import gc
import os
import re
import sys
from typing import NamedTuple

from ..core.errors import BadInput
from ..core.status import FINISHED, Status
from . import output
from .exitcodes import Exit

# The options of `jobs ls` (cmd_jobs.py) by the name of ``gather``'s parameter they set.
FLAGS = {"--all": "all_", "-a": "all_", "--json": "as_json"}
MULTIPLE = {"--status": "status", "-s": "status", "--type": "type_", "-t": "type_", "--action": "action",
            "--host": "host"}
NUMBERS = {"--recent": "limit", "--limit": "page", "-n": "page", "--before": "before"}
_NUMBER = re.compile(r"[1-9][0-9]{0,17}")  # what click's int reads the same way (no sign, no 0, no "_")


class Listing(NamedTuple):
    recs: list
    waits: dict
    names: dict
    hosts: list[str] | None
    more: int | None  # a page was full: the id the next one starts before
    as_json: bool


def gather(store, *, all_: bool = False, status: list[str] | None = None, type_: list[str] | None = None,
           action: list[str] | None = None, limit: int = 20, page: int | None = None, before: int | None = None,
           host: list[str] | None = None, as_json: bool = False) -> Listing:
    """Everything `jobs ls` shows, read from ``store`` (writes only to recover orphaned jobs)."""
    for s in status or []:
        if s not in {x.value for x in Status}:
            raise BadInput(f"unknown status {s!r} (one of: {', '.join(x.value for x in Status)})")
    from . import hosts_output

    store.recover_orphans()
    hosts = hosts_output.filter_values(store, host)
    paged = page is not None or before is not None
    if paged:
        page = page or 50
        recs = store.list_jobs(statuses=status, types=type_, action=action, before_id=before, limit=page, hosts=hosts)
    else:
        recs = store.list_jobs(statuses=status, types=type_, action=action, recent=None if all_ else limit,
                               hosts=hosts)
    more = recs[-1].id if paged and len(recs) == page else None
    return Listing(recs, store.waiting(recs), store.host_names(), hosts, more, as_json)


def show(listing: Listing) -> None:
    from . import hosts_output

    recs, waits, names, hosts = listing.recs, listing.waits, listing.names, listing.hosts
    if listing.more is not None:  # on stderr: the listing on stdout stays data
        output.err(f"more: add --before {listing.more}", style="dim")
    if listing.as_json:
        output.print_json([{**brief(r), "waiting": waits.get(r.id), "host_name": hosts_output.label(names, r.host)}
                           for r in recs])
        return
    if not recs:
        output.err("no jobs", style="dim")
        return
    rows, styles = [], []
    for r in recs:
        p, active = r.progress, r.status not in FINISHED
        frac = p.fraction()
        prog = output.progress_text(p) if active else ""
        if frac is not None and active:
            prog = f"{frac * 100:3.0f}% {prog}"
        if r.id in waits and not r.wait_children:  # not "running 0%": what it waits for (a parent
            prog = waits[r.id]  # waiting for its children shows theirs: store/family.py)
        running = r.status == "running"
        rows.append((str(r.id), r.type, r.status, str(r.priority), prog, (p.phase or "") if active else "",
                     output.human_rate(p.rate, p.rate_unit) if running else "",
                     output.human_duration(p.eta) if running and p.eta is not None else "",
                     output.human_age(r.created_at), output.what(r.context)))
        styles.append((None, None, output.STATUS_STYLE.get(r.status)) + (None,) * 7)
    headers = ("ID", "TYPE", "STATUS", "PRI", "PROGRESS", "PHASE", "RATE", "ETA", "AGE", "COMMAND")
    if hosts or hosts_output.show_column(names, (r.host for r in recs)):  # after STATUS: one library, many hosts
        headers = headers[:3] + ("HOST",) + headers[3:]
        rows = [(*row[:3], hosts_output.label(names, r.host), *row[3:]) for row, r in zip(rows, recs, strict=True)]
        styles = [(*st, None) for st in styles]
    output.columns(headers, rows, right=("ID", "PRI"), styles=styles, squeeze="COMMAND", max_width={"COMMAND": 60})


def brief(r) -> dict:
    return {"id": r.id, "type": r.type, "status": r.status, "priority": r.priority, "parent_id": r.parent_id,
            "progress": r.progress.to_dict(), "bytes": r.bytes_done, "items": r.items_done,
            "warnings": r.warnings, "errors": r.errors, "created_at": r.created_at,
            "finished_at": r.finished_at, "error": r.error, "command": output.what(r.context),
            "attempts": r.attempts, "max_attempts": r.max_attempts, "claim": r.claim, "retries": r.retries,
            "action": r.action, "initiator": r.context.get("initiator"), "schedule": r.context.get("schedule"),
            "host": r.host}


# -- the fast path ---------------------------------------------------------------------------

def parse(args: list[str]) -> tuple[str | None, dict] | None:
    """``[-L LIB] jobs ls [OPTIONS]`` as (library, ``gather``'s keywords), or None for anything
    else: whatever click would parse otherwise, or reject, goes to the full CLI."""
    library, opts = None, {}
    words = iter(args)
    for arg in words:
        if arg in ("--library", "-L"):
            library = next(words, None)
            if library is None or library.startswith("-"):
                return None
        elif arg.startswith("--library="):
            library = arg[len("--library="):]
        elif arg.startswith("-L") and len(arg) > 2:
            library = arg[2:]
        else:
            if [arg, next(words, None)] != ["jobs", "ls"]:
                return None
            break
    else:
        return None
    for arg in words:
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in FLAGS and not eq:
            opts[FLAGS[name]] = True
            continue
        if name not in MULTIPLE and name not in NUMBERS:
            return None  # --help, an unknown option, an argument
        if not eq:
            value = next(words, None)
            if value is None or value.startswith("-"):
                return None
        if name in MULTIPLE:
            opts.setdefault(MULTIPLE[name], []).append(value)
        elif _NUMBER.fullmatch(value) and NUMBERS[name] not in opts:
            opts[NUMBERS[name]] = int(value)
        else:
            return None
    return library, opts


def fast(argv: list[str]) -> int | None:
    """Run ``argv`` if it is a `jobs ls` this path handles: its exit code; None, having printed
    nothing, to run it in the full CLI."""
    parsed = parse(argv[1:])
    if parsed is None or any(k.endswith("_COMPLETE") for k in os.environ):
        return None
    library, opts = parsed
    try:
        from ..store.library import Library, resolve
        from ..store.reader import open_reader

        lib = resolve(library)
        if not isinstance(lib, Library):
            return None  # PostgreSQL: its store, the full one
        store = open_reader(lib)
        try:
            listing = gather(store, **opts)
        finally:
            store.close()
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except Exception:  # noqa: BLE001 - the full CLI does it, and says what is wrong its way
        return None
    try:
        show(listing)
        sys.stdout.flush()
    except BrokenPipeError:  # as main.run: `sdjobs jobs ls | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.FAILED
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the top-level handler's one line
        from .main import report_unexpected

        return report_unexpected(exc)
    finally:
        gc.freeze()  # nothing for the collector to tear down at exit (as main.run)
    return Exit.OK
