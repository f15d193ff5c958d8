"""Schedules: jobs submitted on a cron expression while a runner is alive.

The supervisor calls ``tick()`` from its loop; at most once a second it
looks for schedules with a slot due since they were last served and submits
their job through the store (``submit_scheduled``), as the command it was
given would: the type's ``prepare`` and ``validate`` run then, from the
directory the schedule was added in, so that a scheduled job is validated,
recorded and shown exactly like a typed one. That runs in a process forked
for it (a job type's validation may be slow, a plugin's may hang): the
runner never waits for it; the next ticks collect its answer.

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

import dataclasses
import getpass
import multiprocessing
import os
import signal
import socket
import sys
import time
from datetime import datetime
from typing import Any

from ..core.action import mask_argv, mask_mapping, quote
from ..core.cron import CronExpr, local_time
from ..core.status import FINISHED
from ..store import action_store
from ..store.api import Store
from ..store.leases import pid_alive
from ..store.open import open_store
from ..store.schedules import ScheduledJob, ScheduleRecord
from . import lifeline, prestart
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
        # schedule: (its submitter, its pipe, since, the submission's pending_at: what its record is fenced on)
        self.submitting: dict[int, tuple[Any, Any, float, float]] = {}
        self._mp = multiprocessing.get_context("fork")
        self._last = 0.0
        self.retention = Retention(store, _say)  # the history's upkeep rides on the same tick

    def tick(self, now: float | None = None, *, force: bool = False) -> None:
        mono = time.monotonic()
        if not force and mono - self._last < TICK_EVERY:
            return
        self._last = mono
        try:
            self._collect()
            for s in self.store.schedules():
                self._serve(s, time.time() if now is None else now)
        except Exception as exc:  # noqa: BLE001 - a schedule must never take the runner down
            _say(f"scheduler: {type(exc).__name__}: {exc}")
        try:
            self.retention.tick()
        except Exception as exc:  # noqa: BLE001 - nor the retention
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
            self.store.record_schedule_skip(s.id, str(exc))
            return
        if not expr.missed_between(local(s.checked_at), local(now)):
            return
        slot = expr.last_at_or_before(local(now))
        busy = self._active(s.last_job_id)
        if not self.store.claim_schedule(s.id, s.checked_at, now, submit=busy is None):
            return  # another runner served it
        if busy is not None:
            note = f"skipped the run due {slot:%Y-%m-%d %H:%M}: job {s.last_job_id} is still {busy}"
            self.store.record_schedule_skip(s.id, note)
            _say(f"schedule {s.id}: {note}")
            return
        self._submit(s, now)

    def _active(self, job_id: int | None) -> str | None:
        if job_id is None:
            return None
        status = self.store.job_status(job_id)
        return status if status is not None and status not in FINISHED else None

    def _submit(self, s: ScheduleRecord, pending_at: float) -> None:
        if s.cwd and not os.path.isdir(s.cwd):
            self.store.record_schedule_run(s.id, job_id=None, pending_at=pending_at,
                                           error=f"its working directory {s.cwd} no longer exists; not run")
            return
        answer, end = self._mp.Pipe(duplex=False)
        proc = self._mp.Process(target=submit_main, name=f"sdjobs-schedule-{s.id}",
                                args=(self.db_path, s.id, end, os.getpid()))
        try:
            proc.start()
        except OSError as exc:
            answer.close()
            self.store.record_schedule_run(s.id, job_id=None, error=f"cannot start its submission: {exc}",
                                           pending_at=pending_at)
            return
        finally:
            end.close()
        assert proc.pid is not None  # (started)
        self.store.set_schedule_pid(s.id, proc.pid)
        self.submitting[s.id] = (proc, answer, time.monotonic(), pending_at)

    def _collect(self) -> None:
        for sid, (proc, answer, started, pending_at) in list(self.submitting.items()):
            if proc.exitcode is None and not answer.poll():
                if time.monotonic() - started < SUBMIT_TIMEOUT:
                    continue
                proc.kill()
            job_id, error = None, f"its submission took over {SUBMIT_TIMEOUT:g} s and was stopped"
            try:
                if answer.poll():
                    job_id, error = answer.recv()
                elif proc.exitcode is not None:
                    error = f"its submission ended without an answer (exit code {proc.exitcode})"
            except (EOFError, OSError):
                error = f"its submission ended without an answer (exit code {proc.exitcode})"
            proc.join()
            answer.close()
            del self.submitting[sid]
            if self.store.record_schedule_run(sid, job_id=job_id, error=error, pending_at=pending_at):
                _say(f"schedule {sid}: " + (f"submitted job {job_id}" if job_id else f"not run: {error}"))
            else:  # its submitter had exited: another runner took the submission over, and counted it
                _say(f"schedule {sid}: its submission was recorded by another runner")

    def _recover(self, s: ScheduleRecord) -> None:
        """A submission is pending but not ours: wait for its submitter, or redo it if it is gone."""
        assert s.pending_at is not None  # (pending)
        if s.pending_pid is not None and pid_alive(s.pending_pid):
            if time.time() - s.pending_at < SUBMIT_TIMEOUT:
                return
        elif s.pending_pid is None and time.time() - s.pending_at < LOST_AFTER:
            return  # the runner that claimed it is starting its submitter
        taken = time.time()
        if not self.store.take_lost_schedule(s.id, s.pending_at, taken):
            return
        job_id = self._job_submitted_since(s)
        if job_id is not None:
            self.store.record_schedule_run(s.id, job_id=job_id, error=None, pending_at=taken)
            _say(f"schedule {s.id}: found job {job_id} from a submission cut short")
        else:
            _say(f"schedule {s.id}: a submission was cut short; submitting again")
            self._submit(s, taken)

    def _job_submitted_since(self, s: ScheduleRecord) -> int | None:
        """The job a submission cut short had created: the one that records this schedule
        (or, from an sdjobs that did not record it, its command line, secrets masked as stored)."""
        assert s.pending_at is not None  # (pending)
        tail = mask_argv(command_args(s.argv))
        for job_id, context in action_store.contexts_since(self.store, s.pending_at - 1.0):
            if (context.get("schedule") or {}).get("id") == s.id:
                return job_id
            argv = context.get("argv") or []
            if "schedule" not in context and list(argv[-len(tail):]) == tail:
                return job_id
        return None


def submit_main(db_path: str, schedule_id: int, answer: Any, runner_pid: int) -> None:
    """Entry point of the process the scheduler forks to submit one schedule's job: sends back
    (job id, None) or (None, why not, in one line)."""
    lifeline.die_with_parent(runner_pid)
    prestart.release_inherited()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        store = open_store(db_path)
        try:
            s = store.schedule(schedule_id)
            if s.cwd:
                os.chdir(s.cwd)  # relative paths resolve where the schedule was added
            result: tuple[int | None, str | None] = (submit_scheduled(store, s), None)
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - told to the schedule: a bad job, a plugin's error, a library fault
        result = (None, _one_line(exc))
    answer.send(result)
    answer.close()


def submit_scheduled(store: Store, s: ScheduleRecord) -> int:
    """Submit the job of schedule ``s`` as its command would (prepare, validate, then the store's submit)."""
    from ..core import registry
    from ..core.fields import build_config

    job = s.job
    if job is None:  # a schedule of v1: its command line, turned into its job once
        job = job_of_command(s.argv, str(store.library.db_path))
        store.set_schedule_job(s.id, job)
    cls = registry.get(job.type, job.plugin)
    config = cls.prepare(build_config(cls.Config, job.config))
    cls.validate(config)
    after = waits_for(store, job.type, config)
    return store.submit(job.type, cls.version, config, priority=job.priority, after=after, settings=job.settings,
                        context=_context(s, job, config, str(store.library.db_path)), action=job.action,
                        host=job.host)


def job_of_command(argv: list[str], db_path: str) -> ScheduledJob:
    """The job a command line stands for, parsed by the CLI (for schedules stored before v2)."""
    from ..cli import state
    from ..cli.cmd_schedule import job_of_command as parse

    state.set_library(db_path)
    return parse(argv)


def waits_for(store: Store, job_type: str, config: Any) -> list[int]:
    """Jobs a scheduled job must wait for, as its command would have it: an index waits for
    the index jobs queued or running on an overlapping location (as ``sdjobs index`` does)."""
    if job_type != "index":
        return []
    from ..store.data_plane import open_data_plane

    path = str(config.path)
    loc = open_data_plane(store).find_location(path)
    return store.index_jobs_over(path if loc is None else loc.path)


def _context(s: ScheduleRecord, job: ScheduledJob, config: Any, db_path: str) -> dict:
    """The job's context, as a typed command records it (cli/submit.py), with the command line
    it stands for and the schedule as its initiator."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        user = str(os.getuid())
    argv = mask_argv(["sdjobs", "--library", db_path, *command_args(s.argv)])
    inputs = job.inputs if job.inputs is not None else dataclasses.asdict(config)
    context = {"argv": argv, "command": quote(argv), "action": job.action, "inputs": mask_mapping(inputs),
               "user": user, "cwd": s.cwd or os.getcwd(), "host": socket.gethostname(), "time": time.time(),
               "initiator": f"schedule {s.id}", "schedule": {"id": s.id, "cron": s.cron}}
    if job.plugin is not None:
        context["plugin"] = job.plugin
    return context


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__


def _say(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", file=sys.stderr, flush=True)
