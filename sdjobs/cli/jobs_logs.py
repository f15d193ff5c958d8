"""``sdjobs jobs logs ID``: a job's log, its lifecycle and its issues, one line per event.

People get aligned lines (time, kind, what happened); programs get JSON Lines with
``--json``, one object per event with stable keys, documented in docs/events.md. With
``--follow`` it keeps printing (events and progress) until the job finishes or pauses, and
ends with the outcome: a summary line, or an ``end`` object.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, UTC
from typing import Annotated

import typer

from ..core.display import safe
from ..core.status import FINISHED
from . import output, state

KIND_WIDTH = 16  # "resume-requested", "cancel-requested"
PROGRESS_EVERY = 0.25
PAGE = 2000  # events read at a time: a long log streams


def register(jobs: typer.Typer) -> None:
    jobs.command("logs")(logs)


def logs(job_id: Annotated[int, typer.Argument(help="Job id.")],
         follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the job stops.")] = False,
         as_json: Annotated[bool, typer.Option("--json", help="JSON Lines on stdout (see docs/events.md).")] = False,
         ) -> None:
    """A job's log: submitted, claimed, phases, pauses, interruptions, warnings, errors, its end.

    Examples:

      sdjobs jobs logs 12

      sdjobs jobs logs 12 -f --json | jq -c 'select(.kind == "end")'
    """
    from .follow import POLL, outcome, summary

    store = state.store()
    store.recover_orphans()  # a job whose runner died is interrupted, not running
    rec = store.get(job_id)
    last, last_progress, progress_at = 0, None, 0.0
    while True:
        while page := store.events(job_id, after_id=last, limit=PAGE):
            for e in page:
                if as_json:
                    output.print_jsonl([event_json(e)])
                else:
                    print(event_line(e, rec.retries))
            last = page[-1].id
        stopped = rec.status in FINISHED or rec.status == "paused"
        if stopped or not follow:
            break
        sys.stdout.flush()
        time.sleep(POLL)
        rec = store.get(job_id)
        now = time.monotonic()
        if rec.status == "running" and now - progress_at >= PROGRESS_EVERY:
            line = f"{rec.progress.phase or ''} {output.progress_text(rec.progress)}".strip()
            if line and line != last_progress:
                last_progress, progress_at = line, now
                if as_json:
                    output.print_jsonl([{"kind": "progress", "job": job_id, "ts": time.time(),
                                         "time": iso(time.time()), "status": rec.status,
                                         "progress": rec.progress.to_dict()}])
                else:
                    print(f"{stamp(time.time())}  {'progress':<{KIND_WIDTH}} {safe(line)}")
    if follow or rec.status in FINISHED or rec.status == "paused":
        if as_json:
            output.print_jsonl([{"kind": "end", "job": job_id, "ts": time.time(), "time": iso(time.time()),
                                 **outcome(store, rec)}])
        elif follow:
            print(f"{stamp(time.time())}  {'end':<{KIND_WIDTH}} {safe(summary(rec))}")
    sys.stdout.flush()


def stamp(ts: float) -> str:
    """Local time to the millisecond, as journalctl shows it."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_line(e, current_run: int) -> str:
    """One event as one aligned line (a multi-line message, a traceback, indented below it)."""
    where = f"{output.shorten(e.path, 80)}: " if e.path else ""
    earlier = f"(run {e.retries + 1}) " if e.retries != current_run else ""
    lines = safe(e.message).split("\n") if "\n" in e.message else [safe(e.message)]
    head = f"{stamp(e.ts)}  {e.kind:<{KIND_WIDTH}} {earlier}{where}{lines[0]}"
    pad = " " * (len(stamp(e.ts)) + 3 + KIND_WIDTH)
    return "\n".join([head, *(pad + line for line in lines[1:])])


def event_json(e) -> dict:
    """The stable JSON Lines object of one event (docs/events.md)."""
    return {"kind": e.kind, "id": e.id, "job": e.job_id, "ts": e.ts, "time": iso(e.ts), "run": e.retries + 1,
            "message": e.message, "path": e.path, "fields": e.fields}
