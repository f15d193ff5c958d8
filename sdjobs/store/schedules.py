"""Schedules in the store: a cron expression and the job command it runs.

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

from ..core import codec
from ..core.errors import NotFound
from .api import Store

_COLS = ("id, cron, argv, cwd, created_at, checked_at, pending_at, pending_pid, last_run_at, last_job_id,"
         " last_error, runs, skipped")


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

    @classmethod
    def from_row(cls, row: tuple) -> ScheduleRecord:
        values = list(row)
        values[2] = codec.unpack(values[2]) or []
        values[3] = codec.unpack(values[3]) if values[3] is not None else None
        return cls(*values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def add(store: Store, cron: str, argv: list[str], cwd: str | None, now: float | None = None) -> int:
    now = time.time() if now is None else now
    cur = store.sql("INSERT INTO schedule (cron, argv, cwd, created_at, checked_at) VALUES (?,?,?,?,?)",
                    (cron, codec.pack(list(argv)), codec.pack(cwd), now, now))
    assert cur.lastrowid is not None  # (an INSERT's)
    return cur.lastrowid


def get(store: Store, schedule_id: int) -> ScheduleRecord:
    row = store.sql(f"SELECT {_COLS} FROM schedule WHERE id=?", (schedule_id,)).fetchone()
    if row is None:
        raise NotFound(f"no schedule {schedule_id}")
    return ScheduleRecord.from_row(row)


def all_schedules(store: Store) -> list[ScheduleRecord]:
    return [ScheduleRecord.from_row(r) for r in store.sql(f"SELECT {_COLS} FROM schedule ORDER BY id")]


def remove(store: Store, schedule_id: int) -> bool:
    return store.sql("DELETE FROM schedule WHERE id=?", (schedule_id,)).rowcount == 1


def claim(store: Store, schedule_id: int, seen_checked_at: float, now: float, *, submit: bool) -> bool:
    """Take the due slot if nobody else did since ``seen_checked_at`` was read."""
    cur = store.sql("UPDATE schedule SET checked_at=?, pending_at=?, pending_pid=NULL WHERE id=? AND checked_at=?",
                    (now, now if submit else None, schedule_id, seen_checked_at))
    return cur.rowcount == 1


def set_pending_pid(store: Store, schedule_id: int, pid: int) -> None:
    store.sql("UPDATE schedule SET pending_pid=? WHERE id=?", (pid, schedule_id))


def take_lost(store: Store, schedule_id: int, seen_pending_at: float) -> bool:
    """Take over a submission whose submitter is gone (compare-and-set on pending_at)."""
    cur = store.sql("UPDATE schedule SET pending_pid=NULL, pending_at=? WHERE id=? AND pending_at=?",
                    (time.time(), schedule_id, seen_pending_at))
    return cur.rowcount == 1


def record(store: Store, schedule_id: int, *, job_id: int | None, error: str | None,
           now: float | None = None) -> None:
    """The end of a submission: the job it created, or why it created none."""
    now = time.time() if now is None else now
    store.sql("UPDATE schedule SET pending_at=NULL, pending_pid=NULL, last_run_at=?, last_error=?,"
              " last_job_id=COALESCE(?, last_job_id), runs=runs+? WHERE id=?",
              (now, error, job_id, 1 if job_id else 0, schedule_id))


def record_skip(store: Store, schedule_id: int, note: str) -> None:
    store.sql("UPDATE schedule SET skipped=skipped+1, last_error=? WHERE id=?", (note, schedule_id))
