"""Pause, resume, cancel and retry: the same verbs for the CLI and the dashboard.

They only change the store. A running job sees a request at its next
``check_interrupt()``; a job that is not running changes state at once. A
parent's pause and cancel reach its children too.
"""

from __future__ import annotations

import functools

from ..core import context as engine, registry
from ..core.context import JobContext
from ..core.errors import BadInput
from ..core.fields import load_config
from ..core.status import FINISHED, Status
from ..store import events
from ..store.api import Store
from ..store.hosts import runs_here
from ..store.records import JobRecord
from .backend import StoreBackend
from .fanout import FanOut

_IDLE = ("queued", "paused", "interrupted")


def asked(kind: str):
    """Record who asks (``pause-requested``, ...) before anything it causes, then what came of it."""
    def wrap(verb):
        @functools.wraps(verb)
        def verb_logged(store: Store, job_id: int, **kw) -> str:
            who = events.requester()
            said = f"{'retry' if kind == 'retried' else kind.split('-')[0]} asked by {events.by(who)}"
            event = store.record_event(job_id, kind, said, {**who, **kw})
            try:
                result = verb(store, job_id, **kw)
            except BadInput as exc:
                store.amend_event(event, f"{said}: refused: {exc}", {**who, "result": f"refused: {exc}", **kw})
                raise
            store.amend_event(event, f"{said}: {result}", {**who, "result": result, **kw})
            if kind == "cancel-requested" and result == "cancelled":  # it was not running: that is its end
                events.finished(store, job_id, "cancelled")
            return result
        return verb_logged
    return wrap


@asked("pause-requested")
def pause(store: Store, job_id: int) -> str:
    rec = store.get(job_id)
    for child in rec.children:
        pause(store, child)
    if rec.status == "running":
        store.set_control(job_id, "pause")
        return "pausing"
    if store.set_status(job_id, Status.PAUSED, only_from=("queued", "interrupted")):
        return "paused"
    if rec.status == "paused":
        return "already paused"
    return f"nothing to pause: it is {rec.status}"


@asked("resume-requested")
def resume(store: Store, job_id: int) -> str:
    rec = store.get(job_id)
    for child in rec.children:
        if store.get(child).status in ("paused", "interrupted"):
            resume(store, child)
    if rec.status == "running":
        if rec.control == "pause":
            store.set_control(job_id, None)
            return "pause withdrawn"
        return "already running"
    if rec.status in ("paused", "interrupted"):
        store.set_status(job_id, Status.QUEUED, only_from=("paused", "interrupted"))
        return "queued to resume"
    if rec.status == "queued":
        return "already queued"
    raise BadInput(f"job {job_id} is {rec.status}; use `sdjobs jobs retry {job_id}` to run it again")


@asked("cancel-requested")
def cancel(store: Store, job_id: int) -> str:
    rec = store.get(job_id)
    # The parent first: once its children are cancelled (finished), a parent still queued
    # would be runnable again and could be claimed before this reaches it.
    if rec.status in FINISHED:
        result = f"not cancelled: it is {rec.status}"
    elif rec.status == "running":
        store.set_control(job_id, "cancel")
        result = "cancelling"
    elif rec.state_version is not None and not runs_here(rec.host):
        # Its temporaries are on its host, under paths that mean other files here: its runner
        # cleans up (a cancel stays asked for the next run, which only cleans up, then ends).
        if not store.set_status(job_id, Status.QUEUED, only_from=_IDLE, control="cancel"):
            return cancel.__wrapped__(store, job_id)
        result = f"cancelling: host {rec.host}'s runner cleans up after it"
    else:
        if rec.state_version is not None:
            cleanup(store, rec)
        if not store.set_status(job_id, Status.CANCELLED, only_from=_IDLE):
            return cancel.__wrapped__(store, job_id)  # it started meanwhile: ask the running job instead
        store.fail_dependents()  # jobs waiting --after it fail now, even with no runner alive
        result = "cancelled"
    for child in rec.children:
        if store.get(child).status not in FINISHED:
            cancel(store, child)
    return result


def cleanup(store: Store, rec: JobRecord) -> None:
    """Run the job's ``on_cancel`` here, for a job that is not running anywhere."""
    cls = registry.find(rec.type)
    if cls is None:
        store.log(rec.id, f"job type {rec.type!r} is not installed here: no cleanup was run", "warning")
        return
    ctx = JobContext(rec.id, cls.version, StoreBackend(store, rec.id, 0, FanOut(1)))
    # what the job had done stays in its record: the clean-up adds to it, never resets it
    engine.restore_metrics(ctx, {"bytes": rec.bytes_done, "items": rec.items_done, "warnings": rec.warnings,
                         "errors": rec.errors})
    try:
        cls(load_config(cls.Config, rec.config)).on_cancel(ctx)
    except Exception as exc:  # noqa: BLE001 - a plugin's cleanup must not keep the cancel from completing
        ctx.warn(f"cleanup failed: {exc}")
    engine.flush(ctx)


@asked("retried")
def retry(store: Store, job_id: int, *, from_scratch: bool = False) -> str:
    rec = store.get(job_id)
    if rec.status not in ("failed", "cancelled", "completed-with-errors"):
        raise BadInput(f"job {job_id} is {rec.status}; only failed, cancelled or completed-with-errors jobs are retried")
    # A new run: its attempts, warnings and errors count from zero; the earlier runs' events
    # stay in the log, tagged with the run that recorded them.
    if not store.retry(job_id, only_from=rec.status, from_scratch=from_scratch):
        return retry.__wrapped__(store, job_id, from_scratch=from_scratch)  # it changed meanwhile: look again
    return "queued again" + ("" if from_scratch or rec.state_version is None else " from its last checkpoint")
