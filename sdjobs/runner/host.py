"""Running one claimed job to its end (or its pause) inside a job process."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import time

from ..core import context as engine, registry
from ..core.context import JobContext, describe_error, format_exception
from ..core.errors import (BadInput, CancelRequested, IncompatibleState, LeaseLost, PauseRequested, SdjobsError,
                           ShutdownRequested, WaitForChildren, WorkerLost)
from ..core.fields import load_config
from ..core.status import FINISHED, Status
from ..store import events
from ..store.api import Store
from ..core.hostid import this_host
from ..store.library import LibraryLost, LibraryUnreachable, storage_fault
from ..store.open import open_store
from ..store.records import JobRecord
from .backend import StoreBackend
from . import lifeline, prestart
from .fanout import FanOut, GateClient
from .leftovers import clean_temporaries
from .patience import OUTAGE_EXIT, PATIENCE, patiently

CRASH_EXIT = 70  # a job process that ends so (a worker of it died) is counted as a crash


def execute(store: Store, rec: JobRecord, runner_id: int | None, fanout: FanOut) -> Status | None:
    """Run ``rec`` and record how it ended. Never raises for the job's own failures.

    Every write is fenced by ``rec.claim``: once the job has been claimed again elsewhere
    (its runner was declared dead), the next write or control check raises LeaseLost, and
    this returns None having recorded nothing more. WorkerLost (a worker process died)
    propagates: the job process must end as a crash."""
    made: list = []  # the job, once made
    try:
        return _execute(store, rec, runner_id, fanout, made)
    except LeaseLost:
        return None  # another process runs it now: not one more word from this one
    except LibraryLost as exc:  # its record is gone with its library: nothing more is written
        _lost(rec, made, fanout, str(exc))
        return None
    except Exception as exc:
        fault = storage_fault(exc, store.library)
        if fault is None or not any(w in str(exc) for w in ("malformed", "not a database")):
            raise  # (a full disk: a crash, and the job resumes once there is room)
        _lost(rec, made, fanout, str(fault))  # its library went bad while it wrote its end
        return None
    finally:
        fanout.close()


def _lost(rec: JobRecord, made: list, fanout: FanOut, why: str) -> None:
    fanout.close()  # the pool's batches stop first: none writes a temporary after the clean-up
    clean_temporaries(made[0] if made else None, None)
    print(f"sdjobs: job {rec.id}: stopped for good: {why}", file=sys.stderr, flush=True)


CHILD_ERRORS = ("completed-with-errors", "failed", "cancelled")


def _execute(store: Store, rec: JobRecord, runner_id: int | None, fanout: FanOut, made: list) -> Status:
    started = time.monotonic()
    ctx: JobContext | None = None
    job = None

    def end(status: Status, category: str | None = None, **kw) -> Status:
        if ctx is not None:
            engine.end_run(ctx, status.value)  # the phase's end, what is buffered
        patiently(_ended, store, rec, status, job, category, kw, time.monotonic() - started)
        patiently(store.finish, rec.id, status, runner_id=runner_id, claim=rec.claim,
                  run_seconds=time.monotonic() - started, **kw)
        return status

    try:
        cls = registry.get(rec.type, plugin=(rec.context or {}).get("plugin"))
        ctx = JobContext(rec.id, cls.version, StoreBackend(store, rec.id, rec.priority, fanout, claim=rec.claim))
        job = cls(load_config(cls.Config, rec.config))
        made.append(job)
        if rec.control == "cancel":
            raise CancelRequested()
        data, version = store.read_checkpoint(rec.id)
        if data is not None:
            if not cls.resumable:
                store.write(rec.id, None, _metrics(rec), [], (None, None), claim=rec.claim)
                ctx.log("this job type cannot resume; starting again from the beginning")
            elif version != cls.version and not cls.accepts_state(version or 0):
                raise IncompatibleState(
                    f"its checkpoint was written by {rec.type} v{version}, and this sdjobs has v{cls.version},"
                    f" which cannot resume it; `sdjobs jobs retry {rec.id} --from-scratch` starts it again")
            else:
                engine.restore_metrics(ctx, _metrics(rec))  # warnings, errors, bytes, items of earlier runs count
                job.on_resume(ctx)
        output = job.run(ctx)
        for kid, kid_status in engine.waited_for(ctx):  # the errors of a child it waited for are its own
            if kid_status in CHILD_ERRORS:
                ctx.error(f"child job {kid} ended {kid_status}")
        engine.flush(ctx)
        status = Status.COMPLETED_WITH_ERRORS if ctx.errors else Status.COMPLETED
        return end(status, output=output)
    except PauseRequested:
        _hook(job, "on_pause", ctx)
        return end(Status.PAUSED)
    except ShutdownRequested:
        _hook(job, "on_pause", ctx)
        return end(Status.INTERRUPTED)
    except CancelRequested:
        fanout.close()  # the pool's batches stop first: none writes a temporary after the clean-up
        _hook(job, "on_cancel", ctx)
        return end(Status.CANCELLED)
    except WaitForChildren:
        return end(Status.QUEUED, wait_children=True)
    except LibraryUnreachable:
        raise  # not the job's failure: it resumes from its checkpoint once the library is back
    except IncompatibleState as exc:  # (nothing of this run to clean up: it did not start)
        return end(Status.FAILED, "checkpoint", error=str(exc))
    except BadInput as exc:
        with _then_clean_up(store, rec, job, fanout):
            return end(Status.FAILED, "input", error=str(exc))
    except SdjobsError as exc:
        with _then_clean_up(store, rec, job, fanout):
            return end(Status.FAILED, "job", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - the job crashed: it is recorded as failed, with its traceback in the log
        with _then_clean_up(store, rec, job, fanout):
            if ctx is not None:
                ctx.log(format_exception(exc))
            return end(Status.FAILED, "unexpected", error=describe_error(exc))


def _ended(store: Store, rec: JobRecord, status: Status, job, category: str | None, kw: dict,
           seconds: float) -> None:
    """The lifecycle event of how this run ended (``interrupted`` by a shutdown is the runner's
    to record: it knows why it stops)."""
    if status is Status.PAUSED:
        store.record_event(rec.id, "paused", f"paused after {seconds:.1f} s of this run; it resumes from its"
                           " checkpoint", {"pid": os.getpid(), "seconds": round(seconds, 3)}, claim=rec.claim)
    elif status is Status.QUEUED:
        kids = store.children_status(rec.id)
        waiting = sum(1 for _, s in kids if s not in FINISHED)
        store.record_event(rec.id, "waiting", f"waiting for {waiting} child{'ren' if waiting != 1 else ''}",
                           {"reason": "children", "children": waiting}, claim=rec.claim)
    elif status in FINISHED:
        summary = None
        if job is not None and kw.get("output") is not None:
            try:
                summary = str(type(job).summarize(kw["output"]) or "") or None
            except Exception:  # noqa: BLE001 - a plugin's summary must not keep its job from finishing
                summary = None
        events.finished(store, rec.id, status.value, summary=summary, error=kw.get("error"), category=category,
                        claim=rec.claim)


@contextlib.contextmanager
def _then_clean_up(store: Store, rec: JobRecord, job, fanout: FanOut):
    """A job that failed will not resume: once its end is recorded (or that failed too, on a
    library gone bad), its pool stops and its temporaries are removed."""
    try:
        yield
    finally:
        fanout.close()  # first: no batch of the pool writes a temporary after the clean-up
        try:
            state = store.read_checkpoint(rec.id)[0]
        except Exception:  # noqa: BLE001 - the clean-up goes on without the checkpoint
            state = None  # (the job itself knows what its run made)
        clean_temporaries(job, state)


def _hook(job, name: str, ctx) -> None:
    if job is None or ctx is None:
        return
    try:
        getattr(job, name)(ctx)
    except Exception as exc:  # noqa: BLE001 - a job's hook must not keep the job from finishing
        ctx.warn(f"{name} failed: {describe_error(exc)}")


def _metrics(rec: JobRecord) -> dict:
    return {"bytes": rec.bytes_done, "items": rec.items_done, "warnings": rec.warnings, "errors": rec.errors}


def process_main(db_path: str, job_id: int, claim: int, runner_id: int, runner_pid: int, conn,
                 workers: int) -> None:
    """Entry point of a job process forked by the supervisor (pid ``runner_pid``): it runs
    the job under ``claim`` and dies with its runner."""
    become_job_process(runner_pid)
    run_claimed(db_path, job_id, claim, runner_id, runner_pid, FanOut(workers, GateClient(conn)))


def become_job_process(runner_pid: int) -> None:
    """What a process forked by the supervisor does first, before it knows its job or not
    (runner/spare.py)."""
    lifeline.die_with_parent(runner_pid)
    gc.freeze()  # what the runner made stays untouched: no full collections over it, no copy-on-write
    prestart.release_inherited()  # a job process that outlives its runner must not pass for one
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a hang-up is the runner's to handle, like Ctrl-C


def run_claimed(db_path: str, job_id: int, claim: int, runner_id: int, runner_pid: int, fanout: FanOut) -> None:
    """Run the job ``job_id`` under ``claim`` in this job process, with ``fanout`` (its pool
    perhaps forked already); what ends the process so is said to the runner by its exit code."""
    try:
        store = patiently(open_store, db_path)
    except LibraryUnreachable as exc:
        print(f"sdjobs: job {job_id}: {exc}", file=sys.stderr)
        os._exit(OUTAGE_EXIT)
    try:
        rec = patiently(store.get, job_id)
        if rec.claim != claim:
            return  # claimed again since: not this process's to run
        events.claimed(store, rec, runner_id, runner_pid, os.getpid(), this_host())  # (and its pid)
        execute(store, rec, runner_id, fanout)
    except LeaseLost:
        return
    except WorkerLost as exc:
        print(f"sdjobs: job {job_id}: {exc}", file=sys.stderr)
        store.close()
        os._exit(CRASH_EXIT)  # the runner records a crash; the job resumes from its checkpoint
    except LibraryUnreachable as exc:
        print(f"sdjobs: job {job_id}: {exc}; gave up after {PATIENCE:.0f} s, it resumes from its checkpoint"
              " once the library is back", file=sys.stderr)
        os._exit(OUTAGE_EXIT)  # not a crash (runner/patience.py)
    finally:
        fanout.close()  # (execute closed it, unless the job was not this process's to run)
        store.close()
