"""What a job that will never resume leaves behind: its temporaries.

A job keeps some files only so that it can resume (copy's ``.sdjobs-*.part``). Once it will not
resume, they go (``Job.clean_temporaries``): when it fails (in its own process, once its pool has
stopped), when its last attempt crashed (a process the supervisor forks, as nobody of the job's
own is left), when its library is lost under it, and when ``jobs prune`` forgets its record
(with it, the name of its temporaries): there, a failure to remove them refuses the prune.
"""

from __future__ import annotations

import signal
import sys
import time

from ..core import codec, registry
from ..core.context import describe_error
from ..core.errors import SdjobsError
from ..core.fields import load_config
from ..core.status import Status
from ..store.api import Store
from ..store.open import open_store
from . import lifeline, prestart


def clean_temporaries(job, state: bytes | None) -> str | None:
    """The job will not resume: remove what it kept for that (Job.clean_temporaries).
    Returns why that failed, or None."""
    if job is None:
        return None
    try:
        job.clean_temporaries(codec.unpack(state) if state else None)
    except Exception as exc:  # noqa: BLE001 - a plugin's clean-up failed: its files stay, `jobs prune` tries again
        print(f"sdjobs: temporaries not removed: {describe_error(exc)}", file=sys.stderr, flush=True)
        return describe_error(exc)
    return None


def clean_up_failed(store: Store, job_id: int) -> str | None:
    """For a job that failed with no process of its own left to clean up (it crashed too
    often) or whose record is about to be pruned: remove its temporaries here. Returns why
    that failed, or None."""
    rec = store.get(job_id)
    if rec.state_version is None:
        return None  # it never checkpointed: it never made a temporary that outlived its process
    cls = registry.find(rec.type)
    if cls is None:
        return f"job type {rec.type!r} is not installed here"
    return clean_temporaries(cls(load_config(cls.Config, rec.config)), store.read_checkpoint(job_id)[0])


def clean_up_before_prune(store: Store, older_than: float) -> None:
    """``jobs prune`` forgets a job's checkpoint, and with it the names of its temporaries:
    remove those of the failed and cancelled jobs it is about to forget first, or refuse."""
    cutoff = time.time() - older_than
    for rec in store.list_jobs(statuses=["failed", "cancelled"]):
        if rec.finished_at is not None and rec.finished_at < cutoff:
            why = clean_up_failed(store, rec.id)
            if why:
                raise SdjobsError(f"not pruned: the temporary files of job {rec.id} could not be removed ({why});"
                                  " nothing was pruned")


def clean_up_main(db_path: str, job_id: int, runner_pid: int) -> None:
    """Entry point of a process the supervisor forks to clean up after a job that crashed
    its last attempt (a sweep of a large destination must not hold up the supervisor)."""
    lifeline.die_with_parent(runner_pid)
    prestart.release_inherited()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    store = open_store(db_path)
    try:
        if store.get(job_id).status == Status.FAILED:
            clean_up_failed(store, job_id)
    finally:
        store.close()
