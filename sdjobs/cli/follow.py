"""Following a job: a live progress display on stderr, then a one-line summary."""

from __future__ import annotations

import os
import sys
import time

from ..core import registry
from ..core.display import safe
from ..core.status import FINISHED
from ..runner import control
from ..store.api import Store
from ..store.records import JobRecord
from . import output
from .exitcodes import Exit, for_status

POLL = 0.05
QUICK_POLL, QUICK_FOR = 0.01, 1.0  # many jobs are done within a second: look more often at first


def poll_interval(started: float) -> float:
    return QUICK_POLL if time.monotonic() - started < QUICK_FOR else POLL


def wait_until(store: Store, job_id: int, done, timeout: float | None = None) -> JobRecord:
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    while True:
        rec = store.get(job_id)
        if done(rec) or (deadline is not None and time.monotonic() > deadline):
            return rec
        time.sleep(poll_interval(started))


def follow(store: Store, job_id: int, *, live: bool | None = None, detach: bool = False) -> JobRecord:
    """Follow until the job finishes or pauses. Ctrl-C pauses it and exits 130; with ``detach``
    (`jobs follow`, `jobs resume --follow`) it only stops following: the job keeps running."""
    if live is None:
        live = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    try:
        if live:
            return _follow_live(store, job_id)
        return wait_until(store, job_id, _stopped)
    except KeyboardInterrupt:
        if store.get(job_id).status in FINISHED:
            return store.get(job_id)  # it ended before the Ctrl-C: its outcome is the answer
        if detach:
            output.err(f"detached; job {job_id} keeps running: sdjobs jobs follow {job_id}", style="yellow")
            raise SystemExit(Exit.INTERRUPTED)
        control.pause(store, job_id)
        rec = wait_until(store, job_id, lambda r: r.status != "running", timeout=15)
        if rec.status in FINISHED:
            output.err(f"job {job_id} {rec.status} before it could pause", style="yellow")
            raise SystemExit(for_status(rec.status))
        output.err(f"job {job_id} {'paused' if rec.status == 'paused' else 'is ' + rec.status};"
                   f" resume it with: sdjobs jobs resume {job_id} --follow", style="yellow")
        raise SystemExit(Exit.INTERRUPTED)


def _stopped(rec: JobRecord) -> bool:
    return rec.status in FINISHED or rec.status == "paused"


def _follow_live(store: Store, job_id: int) -> JobRecord:
    from rich.live import Live

    from ..store.waits import waiting_for

    console = output.console(stderr=True)
    rec = store.get(job_id)
    started = time.monotonic()
    with Live(_render(rec, waiting_for(store, rec)), console=console, refresh_per_second=8, transient=True) as live:
        while not _stopped(rec):
            time.sleep(poll_interval(started))
            rec = store.get(job_id)
            live.update(_render(rec, waiting_for(store, rec)))
    return rec


def _render(rec: JobRecord, waiting: str | None = None):
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    p = rec.progress
    frac = p.fraction()
    # not "running 0%": what it waits for (a parent waiting for its children shows their progress)
    if waiting and not rec.wait_children:
        grid = Table.grid(padding=(0, 1))
        grid.add_row(Text.assemble((f"{rec.type} #{rec.id} ", "bold"), (rec.status, output.STATUS_STYLE.get(
            rec.status, ""))), Text(safe(waiting), style="yellow"))
        return grid
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(width=30)
    grid.add_column(no_wrap=True)
    head = Text.assemble((f"{rec.type} #{rec.id} ", "bold"), (rec.status, output.STATUS_STYLE.get(rec.status, "")))
    if p.phase:
        head.append(f" {safe(p.phase)}")
    bar = ProgressBar(total=100, completed=(frac or 0) * 100, pulse=frac is None and rec.status == "running",
                      width=30)
    bits = [output.progress_text(p)]
    if frac is not None:
        bits.insert(0, f"{frac * 100:.0f}%")
    if p.rate:
        bits.append(output.human_rate(p.rate, p.rate_unit))
    if p.eta is not None:
        bits.append(f"ETA {output.human_duration(p.eta)}")
    if rec.warnings or rec.errors:
        bits.append(f"{rec.warnings} warnings, {rec.errors} errors")
    grid.add_row(head, bar, Text(safe(" · ".join(b for b in bits if b))))
    detail = p.path or p.message
    if detail:
        grid.add_row(Text(""), Text(output.shorten(detail, 90), style="dim"), Text(""))
    return grid


def summary(rec: JobRecord) -> str:
    cls = registry.find(rec.type)
    took = output.human_duration(rec.run_seconds)
    text = f"{rec.type} job {rec.id} {rec.status}"
    if rec.status in FINISHED:
        text += f" in {took}"
    detail = rec.error if rec.status == "failed" else (cls.summarize(rec.output) if cls and rec.output else "")
    if detail:
        text += f": {detail}"
    if rec.warnings or rec.errors:
        text += f" ({rec.warnings} warnings, {rec.errors} errors; see `sdjobs jobs show {rec.id}`)"
    return text


def report(store: Store, rec: JobRecord, *, as_json: bool) -> None:
    """Print the outcome: summary and first errors on stderr, the record as JSON on stdout."""
    style = {"completed": "green", "paused": "yellow"}.get(rec.status, "red")
    output.err(summary(rec), style=style)
    if rec.errors:
        for ev in store.events(rec.id, kinds=["error"], limit=10):
            output.err(f"  error: {output.shorten(ev.path or '', 80)}: {ev.message}", style="red")
    if as_json:
        output.print_json(rec.to_dict())


def exit_code(rec: JobRecord) -> Exit:
    if rec.status == "paused":
        return Exit.INTERRUPTED
    return for_status(rec.status)


_MEANING = {0: "completed", 1: "failed, completed with errors, or cancelled",
            130: "paused (or followed no further): it can be resumed"}


def outcome(store: Store, rec: JobRecord) -> dict:
    """How a job ended, for programs (`jobs wait --json`, the end of `jobs logs -f --json`):
    status, exit code and what it means, the summary, the error and its category."""
    from ..store import events

    code = int(exit_code(rec)) if rec.status in FINISHED or rec.status == "paused" else int(Exit.FAILED)
    meaning = _MEANING[code] if rec.status in FINISHED or rec.status == "paused" else f"not finished: {rec.status}"
    cls = registry.find(rec.type)
    summary = None
    if rec.status in FINISHED and cls is not None and rec.output is not None:
        try:
            summary = str(cls.summarize(rec.output) or "") or None
        except Exception:
            summary = None
    ended = events.last(store, rec.id, "finished") if rec.status in FINISHED else None
    return {"id": rec.id, "type": rec.type, "status": rec.status, "exit_code": code, "exit_meaning": meaning,
            "summary": summary, "error": rec.error, "category": (ended.fields.get("category") if ended else None),
            "warnings": rec.warnings, "errors": rec.errors, "output": rec.output,
            "finished_at": rec.finished_at}
