"""Schedules: job commands run on a cron expression while a runner is alive.

The supervisor calls ``tick()`` from its loop; at most once a second it
looks for schedules with a slot due since they were last served and submits
their job command the way a shell would: ``sdjobs --library DB CMD --detach
ARGS...`` in a subprocess, from the directory the schedule was added in, so
that a scheduled job is validated, recorded and shown exactly like a typed
one. The runner never waits for it; the next ticks collect the job id.

Rules:
- However many slots passed while no runner was alive, the schedule runs
  once on the next start (not once per missed slot).
- A slot whose previous job is still queued, running or paused is skipped
  (noted on the schedule): runs of one schedule never pile up.
- A submission cut short by a crash (the runner SIGKILLed while its submitter
  ran) is found on the next start: if it had created its job (the job records
  its schedule), that job is recorded; otherwise the command is submitted again.

The same tick applies the history's retention policy (``runner/retention.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime

from ..core.action import mask_argv
from ..core.cron import CronExpr, local_time
from ..core.status import FINISHED
from ..store import action_store, schedules
from ..store.api import Store
from ..store.leases import pid_alive
from ..store.schedules import ScheduleRecord
from . import prestart
from .retention import Retention

TICK_EVERY = 1.0
SUBMIT_TIMEOUT = 120.0  # a submitter taking longer than this is killed and the run counted as failed
LOST_AFTER = 10.0  # a pending submission with no submitter pid recorded after this long was cut short


def command_args(argv: list[str]) -> list[str]:
    """The scheduled command with ``--detach`` right after its name (before any ``--``)."""
    return [argv[0], "--detach", *argv[1:]]


def local(ts: float) -> datetime:
    return local_time(ts)  # aware, in the machine's zone: schedules follow its DST changes


def next_run(s: ScheduleRecord) -> datetime | None:
    """When the schedule next comes due (may be in the past: due as soon as a runner runs)."""
    return CronExpr.parse(s.cron).next_after(local(s.checked_at))


class Scheduler:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db_path = str(store.library.db_path)
        self.submitting: dict[int, tuple[subprocess.Popen, float]] = {}
        self._last = 0.0
        self.retention = Retention(store, _say)  # the history's upkeep rides on the same tick

    def tick(self, now: float | None = None, *, force: bool = False) -> None:
        mono = time.monotonic()
        if not force and mono - self._last < TICK_EVERY:
            return
        self._last = mono
        try:
            self._collect()
            for s in schedules.all_schedules(self.store):
                self._serve(s, time.time() if now is None else now)
        except Exception as exc:  # a schedule must never take the runner down
            _say(f"scheduler: {type(exc).__name__}: {exc}")
        try:
            self.retention.tick()
        except Exception as exc:  # nor the retention
            _say(f"retention: {type(exc).__name__}: {exc}")

    def close(self, wait: float = 10.0) -> None:
        """Collect submissions still running (for tests and orderly exits)."""
        deadline = time.monotonic() + wait
        while self.submitting and time.monotonic() < deadline:
            self._collect()
            time.sleep(0.02)

    # -- serving one schedule ------------------------------------------------------
    def _serve(self, s: ScheduleRecord, now: float) -> None:
        if s.id in self.submitting:
            return
        if s.pending_at is not None:
            self._recover(s)
            return
        try:
            expr = CronExpr.parse(s.cron)
        except ValueError as exc:
            schedules.record_skip(self.store, s.id, str(exc))
            return
        if not expr.missed_between(local(s.checked_at), local(now)):
            return
        slot = expr.last_at_or_before(local(now))
        busy = self._active(s.last_job_id)
        if not schedules.claim(self.store, s.id, s.checked_at, now, submit=busy is None):
            return  # another runner served it
        if busy is not None:
            note = f"skipped the run due {slot:%Y-%m-%d %H:%M}: job {s.last_job_id} is still {busy}"
            schedules.record_skip(self.store, s.id, note)
            _say(f"schedule {s.id}: {note}")
            return
        self._submit(s)

    def _active(self, job_id: int | None) -> str | None:
        if job_id is None:
            return None
        row = self.store.sql("SELECT status FROM job WHERE id=?", (job_id,)).fetchone()
        return row[0] if row and row[0] not in FINISHED else None

    def _submit(self, s: ScheduleRecord) -> None:
        if s.cwd and not os.path.isdir(s.cwd):
            schedules.record(self.store, s.id, job_id=None,
                             error=f"its working directory {s.cwd} no longer exists; not run")
            return
        cmd = [*prestart.python_argv("sdjobs"), "--library", self.db_path, *command_args(s.argv)]
        try:
            proc = subprocess.Popen(cmd, cwd=s.cwd or None, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env={**os.environ, "SDJOBS_SCHEDULE": str(s.id)},
                                    text=True, errors="surrogateescape", close_fds=True)
        except OSError as exc:
            schedules.record(self.store, s.id, job_id=None, error=f"cannot start sdjobs: {exc}")
            return
        schedules.set_pending_pid(self.store, s.id, proc.pid)
        self.submitting[s.id] = (proc, time.monotonic())

    def _collect(self) -> None:
        for sid, (proc, started) in list(self.submitting.items()):
            if proc.poll() is None:
                if time.monotonic() - started < SUBMIT_TIMEOUT:
                    continue
                proc.kill()
            out, err = proc.communicate()
            del self.submitting[sid]
            job_id = _job_id(out)
            error = None
            if proc.returncode != 0 or job_id is None:
                lines = [ln for ln in (err or "").splitlines() if ln.strip()]
                error = lines[-1].strip() if lines else f"the job command exited with code {proc.returncode}"
            schedules.record(self.store, sid, job_id=job_id, error=error)
            _say(f"schedule {sid}: " + (f"submitted job {job_id}" if job_id else f"not run: {error}"))

    def _recover(self, s: ScheduleRecord) -> None:
        """A submission is pending but not ours: wait for its submitter, or redo it if it is gone."""
        if s.pending_pid is not None and pid_alive(s.pending_pid):
            if time.time() - s.pending_at < SUBMIT_TIMEOUT:
                return
        elif s.pending_pid is None and time.time() - s.pending_at < LOST_AFTER:
            return  # the runner that claimed it is starting its submitter
        if not schedules.take_lost(self.store, s.id, s.pending_at):
            return
        job_id = self._job_submitted_since(s)
        if job_id is not None:
            schedules.record(self.store, s.id, job_id=job_id, error=None)
            _say(f"schedule {s.id}: found job {job_id} from a submission cut short")
        else:
            _say(f"schedule {s.id}: a submission was cut short; submitting again")
            self._submit(s)

    def _job_submitted_since(self, s: ScheduleRecord) -> int | None:
        """The job a submission cut short had created: the one that records this schedule
        (or, from an sdjobs that did not record it, its command line, secrets masked as stored)."""
        tail = mask_argv(command_args(s.argv))
        for job_id, context in action_store.contexts_since(self.store, s.pending_at - 1.0):
            if (context.get("schedule") or {}).get("id") == s.id:
                return job_id
            argv = context.get("argv") or []
            if "schedule" not in context and list(argv[-len(tail):]) == tail:
                return job_id
        return None


def _job_id(out: str | None) -> int | None:
    """The id printed by ``--detach`` (a number, or JSON with an ``id`` under ``--json``)."""
    text = (out or "").strip()
    if text.isdigit():
        return int(text)
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), int) else None


def _say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", file=sys.stderr, flush=True)
