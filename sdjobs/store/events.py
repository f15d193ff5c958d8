"""A job's lifecycle in its log: structured events beside its warnings and errors.

Every event is a row of ``job_event``: a kind and one readable line. A lifecycle event also
has fields (a msgpack map in ``job_event_field``), so that ``jobs logs --json`` gives
programs the same facts the line gives people. The kinds, stable and documented in
docs/events.md:

  submitted         by whom (user, uid, pid) and the command
  claimed           runner id, host, runner pid, job process pid, attempt
  phase-start       phase, total, unit, bytes_total
  phase-end         phase, done, total, unit, bytes_done, bytes_total, seconds
  pause-requested   }
  resume-requested  } who asked: user, uid, pid, command; what it did (result)
  cancel-requested  }
  retried           }
  paused            the job checkpointed and stopped at a pause request
  waiting           why it waits (children)
  interrupted       why (reason: shutdown, runner-died, process-died, worker-lost), runner pid
  finished          status, exit code, summary, error and its category

Warnings, errors and a job's own ``ctx.log`` lines keep their kinds (warning, error, log).

``insert``, ``record``, ``amend`` and ``last`` are the SQLite side of the job plane's event
verbs; the lifecycle helpers (``finished``, ``interrupted``, ``runner_lost``, ``submitted``,
``claimed``) only word an event and write it with ``record_event``: they serve any backend.
"""

from __future__ import annotations

import getpass
import os
import shlex
import sys
import time
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable

from ..core import codec
from .records import Event

if TYPE_CHECKING:
    from .api import Store

LIFECYCLE = ("submitted", "claimed", "phase-start", "phase-end", "pause-requested", "resume-requested",
             "cancel-requested", "retried", "paused", "waiting", "interrupted", "finished")

# The pid of the `sdjobs` process a served command runs for (set by cli/server.py in the fork
# that runs it): the process the user started, not the server's fork.
client_pid: int | None = None


def requester() -> dict[str, Any]:
    """Who asks, from this process: the user, uid, pid and command line."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        user = str(os.getuid())
    return {"user": user, "uid": os.getuid(), "pid": client_pid or os.getpid(),
            "command": shlex.join(["sdjobs", *sys.argv[1:]])}


def by(who: dict[str, Any]) -> str:
    """'alice (uid 1000, pid 4242) running `sdjobs jobs pause 12`'."""
    text = f"{who.get('user', '?')} (uid {who.get('uid', '?')}, pid {who.get('pid', '?')})"
    return f"{text} running `{who['command']}`" if who.get("command") else text


def insert(store: Store, job_id: int, events: Iterable[tuple]) -> int | None:
    """Events of a job, in the caller's transaction: (ts, kind, path, message[, fields]).
    Returns the id of the last one written."""
    from .api import text

    last = None
    for ev in events:
        ts, kind, path, message = ev[:4]
        fields = ev[4] if len(ev) > 4 else None
        event_id = store._insert_id("INSERT INTO job_event (job_id, ts, kind, path, message, retries)"
                                    " SELECT id, ?, ?, ?, ?, retries FROM job WHERE id=?",
                                    (ts, kind, os.fsencode(path) if path is not None else None, text(message), job_id))
        if event_id is not None:
            last = event_id
            if fields:
                store._sql("INSERT INTO job_event_field (event_id, fields) VALUES (?, ?)", (last, codec.pack(fields)))
    return last


def record(store: Store, job_id: int, kind: str, message: str, fields: dict[str, Any] | None = None, *,
           ts: float | None = None, claim: int | None = None) -> int | None:
    """One lifecycle event (its id). Inside a transaction of the caller's, or in its own; with
    ``claim``, only while the job still runs under it (LeaseLost otherwise)."""
    event = (time.time() if ts is None else ts, kind, None, message, fields)
    if store._in_transaction():
        if claim is not None:
            store.check_claim(job_id, claim)
        return insert(store, job_id, [event])
    with store._transaction():
        if claim is not None:
            store.check_claim(job_id, claim)
        return insert(store, job_id, [event])


def amend(store: Store, event_id: int | None, message: str, fields: dict[str, Any]) -> None:
    """Complete an event recorded before the outcome it names was known (a request's result)."""
    from .api import text

    if event_id is None:
        return
    with store._transaction():
        store._sql("UPDATE job_event SET message=? WHERE id=?", (text(message), event_id))
        store._sql("INSERT INTO job_event_field (event_id, fields) VALUES (?, ?) ON CONFLICT(event_id)"
                   " DO UPDATE SET fields=excluded.fields", (event_id, codec.pack(fields)))


def read(store: Store, job_id: int, *, after_id: int = 0, kinds: Iterable[str] | None = None,
         limit: int | None = None) -> list[Event]:
    """A job's events in order, each with its fields (``Store.events``)."""
    return store.events(job_id, after_id=after_id, kinds=kinds, limit=limit)


def finished(store: Store, job_id: int, status: str, *, summary: str | None = None, error: str | None = None,
             category: str | None = None, ts: float | None = None, claim: int | None = None) -> None:
    """The ``finished`` event: its status, and the summary or the failure with its category
    (job: the job said why; input: what it was given; checkpoint: an incompatible checkpoint;
    crash: its process kept dying; dependency: a job it ran --after failed; unexpected: a bug)."""
    message = status
    if error:
        message += f" ({category}): {error}" if category else f": {error}"
    elif summary:
        message += f": {summary}"
    fields = {"status": status, "summary": summary, "error": error, "category": category}
    store.record_event(job_id, "finished", message, {k: v for k, v in fields.items() if v is not None},
                       ts=ts, claim=claim)


def interrupted(store: Store, job_id: int, reason: str, why: str, *, ts: float | None = None,
                **fields: Any) -> None:
    """The ``interrupted`` event: ``reason`` a stable word (shutdown, runner-died, process-died,
    worker-lost), ``why`` its readable line."""
    store.record_event(job_id, "interrupted", why, {"reason": reason, **fields}, ts=ts)


def runner_lost(store: Store, job_id: int, runner, runner_id: int | None, pid: int | None, attempt: int,
                last: bool, now: float) -> None:
    """The ``interrupted`` event of a job whose runner is gone: it died (its process, on this
    host), or on another host it stopped heartbeating (its lease lost)."""
    from ..core.hostid import this_host

    who = f"runner {runner_id} (pid {runner.pid} on {runner.host})" if runner else f"runner {runner_id}"
    if runner is not None and runner.host != this_host():  # judged by its heartbeat's age, not its process
        from .leases import LEASE_SECONDS

        # (not "N s ago": that would compare this host's clock with the other host's)
        reason, what = "lease-lost", f"its {who} has not heartbeated for over {LEASE_SECONDS:g} s"
    else:
        reason, what = "runner-died", f"its {who} died"
    facts = {"runner_id": runner_id, "runner_pid": runner.pid if runner else None,
             "host": runner.host if runner else None, "pid": pid, "attempt": attempt}
    interrupted(store, job_id, reason, f"{what}, too often" if last else f"{what}; it resumes from its last checkpoint",
                ts=now, **{k: v for k, v in facts.items() if v is not None})


def submitted(store: Store, job_id: int, context: dict, *, parent_id: int | None, after: list[int],
              priority: int) -> None:
    """The ``submitted`` event, from the submitting command's context (cli/submit.py), in the
    transaction that queues the job: by whom, from which command."""
    context = context if isinstance(context, dict) else {}  # (whatever a caller passed: never fail a submit)
    who = {**requester(), "user": str(context.get("user") or requester()["user"])}
    argv = context.get("argv") or []
    argv = [str(a) for a in (argv if isinstance(argv, (list, tuple)) else [argv])]
    if isinstance(context.get("command"), str):  # the command as recorded, already shell-quoted
        who["command"] = context["command"]
    else:
        who["command"] = shlex.join(argv) if argv and not argv[0].startswith("(") else " ".join(argv)
    fields: dict[str, Any] = {**who, "priority": priority}
    schedule = context.get("schedule", context.get("schedule_id", os.environ.get("SDJOBS_SCHEDULE")))
    if isinstance(schedule, dict):
        schedule = schedule.get("id")
    if isinstance(schedule, str) and schedule.isdigit():
        schedule = int(schedule)  # the schedule's id, whether the context or $SDJOBS_SCHEDULE gave it
    if parent_id is not None:
        fields["parent"] = parent_id
        message = f"submitted by job {parent_id}"
    elif schedule is not None:
        fields["schedule"] = schedule
        message = f"submitted by schedule {schedule} running `{who['command']}`"
    else:
        message = f"submitted by {by(who)}"
    if after:
        fields["after"] = list(after)
        message += f"; runs after {', '.join(f'#{a}' for a in after)}"
    store.record_event(job_id, "submitted", message, fields)


def claimed(store: Store, rec, runner_id: int | None, runner_pid: int, pid: int, host: str) -> None:
    """The job process's pid and its ``claimed`` event, written by it before the job runs, in one
    transaction fenced by its claim: a log never lacks the claim of a process the job record names."""
    resumed = rec.state_version is not None
    fields = {"runner_id": runner_id, "runner_pid": runner_pid, "host": host, "pid": pid,
              "attempt": rec.attempt, "max_attempts": rec.max_attempts, "run": rec.retries + 1,
              "claim": rec.claim, "resumed": resumed}
    message = (f"claimed by runner {runner_id} (pid {runner_pid} on {host}); job process pid {pid},"
               f" attempt {rec.attempt} of {rec.max_attempts}" + (", resuming from its checkpoint" if resumed else ""))
    with store._transaction():
        store.set_pid(rec.id, pid, rec.claim)  # (LeaseLost when claimed again since: then neither is written)
        record(store, rec.id, "claimed", message, fields)


def last(store: Store, job_id: int, kind: str) -> Event | None:
    """The job's latest event of ``kind`` (with its fields), or None."""
    row = store._sql("SELECT MAX(id) FROM job_event WHERE job_id=? AND kind=?", (job_id, kind)).fetchone()
    if not row or row[0] is None:
        return None
    found = read(store, job_id, after_id=row[0] - 1, kinds=[kind], limit=1)
    return found[0] if found else None
