"""Schedules in the store: a cron expression and the job it submits.

A schedule keeps the job it submits as a job type, the config its command
built (before the type's ``prepare``, which runs at each submission: paths
and targets are resolved when the job runs, as for a typed command), the
job's settings, and how it is submitted (``ScheduledJob``); and the command
line it was given, to show. A schedule added by an sdjobs before v2 of the
schedule schema has only its command line (``job`` is None) until its first
run stores the job it stands for (``set_job``).

``checked_at`` is the time up to which a schedule has been served: a slot
after it and not later than now is due. Serving a schedule moves
``checked_at`` to now with a compare-and-set, so two runners never both take
the same slot, and however many slots passed while no runner was alive, they
come due together and run once. ``pending_at``/``pending_pid`` mark a job
command being submitted, so that a submission cut short by a crash is found
and made again on the next start.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from ..core import codec
from ..core.errors import NotFound

if TYPE_CHECKING:
    from .api import Store

_COLS = ("id, cron, argv, cwd, created_at, checked_at, pending_at, pending_pid, last_run_at, last_job_id,"
         " last_error, runs, skipped, job_type, config, settings, options")


@dataclasses.dataclass
class ScheduledJob:
    """What a schedule submits at each run."""

    type: str
    config: dict  # as the command built it, before the type's prepare (msgpack-safe values)
    settings: dict = dataclasses.field(default_factory=dict)  # the job's settings (bwlimit, max_workers)
    priority: int = 0
    action: str | None = None  # the command word (copy, dupes...), as in a typed job's context
    inputs: dict | None = None  # what the user gave (recorded in the job's context), if not the config
    plugin: str | None = None  # the module of a plugin's job type
    host: str | None = None  # the host its jobs go to (--on, else where it was added); None: the runner's

    def options(self) -> dict:
        return {"priority": self.priority, "action": self.action, "inputs": self.inputs, "plugin": self.plugin,
                "host": self.host}

    @classmethod
    def from_columns(cls, job_type: str | None, config: bytes | None, settings: bytes | None,
                     options: bytes | None) -> ScheduledJob | None:
        if job_type is None:
            return None  # a schedule of v1: its command line only
        opts = codec.unpack(options) if options is not None else {}
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(job_type, codec.unpack(config) or {}, codec.unpack(settings) if settings is not None else {},
                   **{k: v for k, v in (opts or {}).items() if k in known})


@dataclasses.dataclass
class ScheduleRecord:
    id: int
    cron: str
    argv: list[str]
    cwd: str | None
    created_at: float
    checked_at: float
    pending_at: float | None
    pending_pid: int | None
    last_run_at: float | None
    last_job_id: int | None
    last_error: str | None
    runs: int
    skipped: int
    job: ScheduledJob | None  # None: a schedule of v1, to be turned into its job at its first run

    @classmethod
    def from_row(cls, row: tuple) -> ScheduleRecord:
        (sid, cron, argv, cwd, created_at, checked_at, pending_at, pending_pid, last_run_at, last_job_id,
         last_error, runs, skipped, *job) = row
        return cls(sid, cron, codec.unpack(argv) or [], codec.unpack(cwd) if cwd is not None else None, created_at,
                   checked_at, pending_at, pending_pid, last_run_at, last_job_id, last_error, runs, skipped,
                   ScheduledJob.from_columns(*job))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def add(store: Store, cron: str, argv: list[str], cwd: str | None, job: ScheduledJob | None = None,
        now: float | None = None) -> int:
    """A schedule of ``argv``, the job command it runs; ``job``, what that command submits
    (without it, the first run works it out from ``argv``, as for a schedule of v1)."""
    now = time.time() if now is None else now
    schedule_id = store._insert_id("INSERT INTO schedule (cron, argv, cwd, created_at, checked_at, job_type, config,"
                                   " settings, options) VALUES (?,?,?,?,?,?,?,?,?)",
                                   (cron, codec.pack(list(argv)), codec.pack(cwd), now, now, *_job_columns(job)))
    assert schedule_id is not None
    return schedule_id


def set_job(store: Store, schedule_id: int, job: ScheduledJob) -> None:
    """Store the job a schedule of v1 stands for (worked out from its command line)."""
    store._sql("UPDATE schedule SET job_type=?, config=?, settings=?, options=? WHERE id=?",
              (*_job_columns(job), schedule_id))


def _job_columns(job: ScheduledJob | None) -> tuple:
    if job is None:
        return None, None, None, None
    return job.type, codec.pack(job.config), codec.pack(job.settings), codec.pack(job.options())


def get(store: Store, schedule_id: int) -> ScheduleRecord:
    row = store._sql(f"SELECT {_COLS} FROM schedule WHERE id=?", (schedule_id,)).fetchone()
    if row is None:
        raise NotFound(f"no schedule {schedule_id}")
    return ScheduleRecord.from_row(row)


def all_schedules(store: Store) -> list[ScheduleRecord]:
    return [ScheduleRecord.from_row(r) for r in store._sql(f"SELECT {_COLS} FROM schedule ORDER BY id")]


def remove(store: Store, schedule_id: int) -> bool:
    return store._sql("DELETE FROM schedule WHERE id=?", (schedule_id,)).rowcount == 1


def claim(store: Store, schedule_id: int, seen_checked_at: float, now: float, *, submit: bool) -> bool:
    """Take the due slot if nobody else did since ``seen_checked_at`` was read."""
    cur = store._sql("UPDATE schedule SET checked_at=?, pending_at=?, pending_pid=NULL WHERE id=? AND checked_at=?",
                     (now, now if submit else None, schedule_id, seen_checked_at))
    return cur.rowcount == 1


def set_pending_pid(store: Store, schedule_id: int, pid: int) -> None:
    store._sql("UPDATE schedule SET pending_pid=? WHERE id=?", (pid, schedule_id))


def take_lost(store: Store, schedule_id: int, seen_pending_at: float, now: float) -> bool:
    """Take over a submission whose submitter is gone (compare-and-set on pending_at, which
    becomes ``now``: what the taker's ``record`` names)."""
    cur = store._sql("UPDATE schedule SET pending_pid=NULL, pending_at=? WHERE id=? AND pending_at=?",
                     (now, schedule_id, seen_pending_at))
    return cur.rowcount == 1


def record(store: Store, schedule_id: int, *, job_id: int | None, error: str | None, pending_at: float,
           now: float | None = None) -> bool:
    """The end of the submission whose ``pending_at`` (as claimed or taken over) is given: the job
    it created, or why it created none; only while it is still that one: another runner may have
    taken it over meanwhile (its submitter had exited, not yet collected) and recorded it itself.
    False when it was not recorded here."""
    now = time.time() if now is None else now
    cur = store._sql("UPDATE schedule SET pending_at=NULL, pending_pid=NULL, last_run_at=?, last_error=?,"
                     " last_job_id=COALESCE(?, last_job_id), runs=runs+? WHERE id=? AND pending_at=?",
                     (now, error, job_id, 1 if job_id else 0, schedule_id, pending_at))
    return cur.rowcount == 1


def record_skip(store: Store, schedule_id: int, note: str) -> None:
    store._sql("UPDATE schedule SET skipped=skipped+1, last_error=? WHERE id=?", (note, schedule_id))


def any_schedule(store: Store) -> bool:
    return store._sql("SELECT 1 FROM schedule LIMIT 1").fetchone() is not None
