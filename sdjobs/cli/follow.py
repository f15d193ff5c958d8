"""Following a job: a live progress display on stderr, then a one-line summary."""

from __future__ import annotations

import os
import sys
import time

from ..core import registry
from ..core.display import safe
from ..core.humanize import plural
from ..core.status import FINISHED
from ..store.api import Store
from ..store.records import JobRecord
from . import output
from .exitcodes import Exit, for_status

POLL = 0.05
QUICK_POLL, QUICK_FOR = 0.01, 1.0  # many jobs are done within a second: look more often at first
# How often a follower without a live display looks at SQLite's data_version in its first
# QUICK_FOR seconds (11 us a look, measured): the end of a short job is printed at most 2 ms
# after it rather than 10.
QUICK_LOOK = 0.002
READ_EVERY = 1.0  # the job is read again at least this often, changed or not


def poll_interval(started: float) -> float:
    return QUICK_POLL if time.monotonic() - started < QUICK_FOR else POLL


def wait_until(store: Store, job_id: int, done, timeout: float | None = None) -> JobRecord:
    """The job once ``done(record)``, read again whenever the library changes (``wait_changed``:
    woken by NOTIFY on PostgreSQL, a look at SQLite's data_version every few ms)."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    while True:
        version = store.data_version()  # (before the read: a change after it wakes the wait at once)
        rec = store.get(job_id)
        now = time.monotonic()
        if done(rec) or (deadline is not None and now > deadline):
            return rec
        store.wait_changed(version, READ_EVERY if deadline is None else max(0.0, min(READ_EVERY, deadline - now)),
                           QUICK_LOOK if now - started < QUICK_FOR else None)


def follow(store: Store, job_id: int, *, live: bool | None = None, detach: bool = False) -> JobRecord:
    """Follow until the job finishes or pauses. Ctrl-C pauses it and exits 130; with ``detach``
    (`jobs follow`, `jobs resume --follow`) it only stops following: the job keeps running."""
    if live is None:
        live = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    try:
        if live:
            return _follow_live(store, job_id)
        _say_if_no_runner(store, job_id)
        return wait_until(store, job_id, _stopped)
    except KeyboardInterrupt:
        return interrupted(store, job_id, detach=detach)


def interrupted(store: Store, job_id: int, *, detach: bool = False) -> JobRecord:
    """Ctrl-C while a command follows its job (or is about to): the record of a job that ended
    before it; else the job is paused and this exits 130 (``detach``: it keeps running)."""
    if store.get(job_id).status in FINISHED:
        return store.get(job_id)  # it ended before the Ctrl-C: its outcome is the answer
    if detach:
        output.err(f"detached; job {job_id} keeps running: sdjobs jobs follow {job_id}", style="yellow")
        raise SystemExit(Exit.INTERRUPTED) from None
    from ..runner import control  # (here: its imports, the job engine's, are not a follower's)

    control.pause(store, job_id)
    rec = wait_until(store, job_id, lambda r: r.status != "running", timeout=15)
    if rec.status in FINISHED:
        output.err(f"job {job_id} {rec.status} before it could pause", style="yellow")
        raise SystemExit(for_status(rec.status)) from None
    output.err(f"job {job_id} {'paused' if rec.status == 'paused' else 'is ' + rec.status};"
               f" resume it with: sdjobs jobs resume {job_id} --follow", style="yellow")
    raise SystemExit(Exit.INTERRUPTED) from None


def _say_if_no_runner(store: Store, job_id: int) -> None:
    """A job no live runner can take (meant for a host whose runner is not there) says so once,
    rather than be followed in silence (the live display shows it as the job's line)."""
    why = store.waiting([store.get(job_id)]).get(job_id) or ""
    if why.startswith("waiting for a runner"):
        output.err(f"job {job_id} is {why}", style="yellow")


def _stopped(rec: JobRecord) -> bool:
    return rec.status in FINISHED or rec.status == "paused"


def _follow_live(store: Store, job_id: int) -> JobRecord:
    from rich.live import Live

    console = output.console(stderr=True)
    version = store.data_version()
    rec = store.get(job_id)
    started = time.monotonic()
    with Live(_render(rec, store.waiting([rec]).get(rec.id)), console=console, refresh_per_second=8,
              transient=True) as live:
        while not _stopped(rec):
            store.wait_changed(version, poll_interval(started))
            version = store.data_version()
            rec = store.get(job_id)
            live.update(_render(rec, store.waiting([rec]).get(rec.id)))
    return rec


def _render(rec: JobRecord, waiting: str | None = None):
    """The live display of one job: two lines that fit the terminal's width (see ``follow_lines``)."""

    class FollowLines:
        def __rich_console__(self, console, options):
            yield from follow_lines(rec, options.max_width, waiting)

    return FollowLines()


BAR_FULL, BAR_EMPTY = "━", "─"


def follow_lines(rec: JobRecord, width: int, waiting: str | None = None):
    """Two lines in ``width`` cells. The first always keeps the job id, the percentage, the rate and
    the ETA (the bar takes what is left); the second says what is being done: the phase, the amounts,
    then the current path cut from the left so that its file name shows. A job that waits (``waiting``,
    see ``store/waits.py``) says what for instead: it is not "running 0%"."""
    from rich.text import Text

    p = rec.progress
    frac = p.fraction()
    head = Text.assemble((f"{rec.type} #{rec.id}", "bold"), " ",
                         (rec.status, output.STATUS_STYLE.get(rec.status, "")))
    if waiting and not rec.wait_children:  # a parent waiting for its children shows their progress
        line = head.copy()
        line.append(" " + safe(waiting), style="yellow")
        line.truncate(width, overflow="ellipsis")
        line.no_wrap = True
        return [line]
    facts = [f"{frac * 100:.0f}%" if frac is not None else ""]
    if p.rate:
        facts.append(output.human_rate(p.rate, p.rate_unit))
    if p.eta is not None and rec.status == "running":
        facts.append(f"ETA {output.human_duration(p.eta)}")
    if rec.warnings or rec.errors:
        facts.append(f"{rec.warnings}W {rec.errors}E")
    tail = Text("  ".join(f for f in facts if f))
    room = width - head.cell_len - tail.cell_len - 2
    line1 = head.copy()
    if room >= 6:
        bar_width = min(40, room)
        line1.append(" ")
        line1.append_text(_bar(frac, bar_width, rec.status))
        line1.append(" ")
    else:
        line1.append(" ")
    line1.append_text(tail)
    line1.truncate(width, overflow="ellipsis")
    line1.no_wrap = True

    what = Text("  ", style="dim")
    if p.phase:
        what.append(safe(p.phase) + ": ", style="")
    amounts = output.progress_text(p)
    detail = p.path or p.message
    parts = amounts.split(" · ")
    while detail and len(parts) > 1 and width - what.cell_len - len(" · ".join(parts)) < 43:
        parts.pop()  # the path needs the room more than the second amount does
    amounts = " · ".join(parts)
    if amounts:
        what.append(amounts)
    if detail:
        if amounts:
            what.append(" · ", style="dim")
        left = max(8, width - what.cell_len)
        what.append(output.shorten(detail, left) if p.path else safe(detail), style="dim")
    what.truncate(width, overflow="ellipsis")
    what.no_wrap = True
    return [line1, what]


def _bar(frac: float | None, width: int, status: str):
    from rich.text import Text

    if frac is None:
        return Text("·" * width, style="dim")
    full = int(round(max(0.0, min(1.0, frac)) * width))
    text = Text(BAR_FULL * full, style=output.STATUS_STYLE.get(status, ""))
    text.append(BAR_EMPTY * (width - full), style="dim")
    return text


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
        text += f" ({plural(rec.warnings, 'warning')}, {plural(rec.errors, 'error')}; see `sdjobs jobs show {rec.id}`)"
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

    code = int(exit_code(rec)) if rec.status in FINISHED or rec.status == "paused" else int(Exit.FAILED)
    meaning = _MEANING[code] if rec.status in FINISHED or rec.status == "paused" else f"not finished: {rec.status}"
    cls = registry.find(rec.type)
    summary = None
    if rec.status in FINISHED and cls is not None and rec.output is not None:
        try:
            summary = str(cls.summarize(rec.output) or "") or None
        except Exception:  # noqa: BLE001 - a plugin's summary must not break the listing
            summary = None
    ended = store.last_event(rec.id, "finished") if rec.status in FINISHED else None
    return {"id": rec.id, "type": rec.type, "status": rec.status, "exit_code": code, "exit_meaning": meaning,
            "summary": summary, "error": rec.error, "category": (ended.fields.get("category") if ended else None),
            "warnings": rec.warnings, "errors": rec.errors, "output": rec.output,
            "finished_at": rec.finished_at}
