"""Why a job waits, in words, wherever it is shown (`jobs ls`, `jobs show`, `jobs follow`).

  "after #1031"                           queued until the jobs it runs --after complete
  "waiting for 3 children"                a parent suspended until its children finish
  "waiting for a worker (held by #4, #7)" queued while every worker of the live runners is
                                          busy, or running but with no fan-out token (the
                                          runner's gate gives them to other jobs)
  "waiting for a runner"                  queued with no runner alive to claim it

The first three are read from the jobs table; a running job's want of a token only its
runner knows, and it records it here (``set_waits``), under the job's claim.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import Store
    from .records import JobRecord


def waiting_for(store: "Store", rec: "JobRecord") -> str | None:
    """What ``rec`` waits for, or None when it does not wait (or is not active)."""
    if rec.status == "running":
        row = store.sql("SELECT reason FROM job_wait WHERE job_id=? AND claim=?", (rec.id, rec.claim)).fetchone()
        return row[0] if row else None
    if rec.status != "queued":
        return None
    deps = [r[0] for r in store.sql(
        "SELECT d.depends_on FROM job_dep d JOIN job j ON j.id = d.depends_on WHERE d.job_id=?"
        " AND j.status NOT IN ('completed', 'completed-with-errors') ORDER BY 1", (rec.id,))]
    if deps:
        return "after " + ", ".join(f"#{d}" for d in deps)
    if rec.wait_children:
        n = store.sql("SELECT COUNT(*) FROM job WHERE parent_id=? AND status NOT IN"
                      " ('completed', 'completed-with-errors', 'failed', 'cancelled')", (rec.id,)).fetchone()[0]
        if n:
            return f"waiting for {n} child{'ren' if n != 1 else ''}"
    runners = store.runners()
    if not runners:
        return "waiting for a runner"
    running = [r[0] for r in store.sql("SELECT id FROM job WHERE status='running' ORDER BY id")]
    if len(running) < sum(r.workers for r in runners):
        return None  # a worker is free: claimed at the runner's next look
    return held_by(running)


def held_by(ids: list[int]) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"waiting for a worker (held by {shown})" if ids else "waiting for a worker"


def set_waits(store: "Store", changes: dict[int, tuple[int, str | None]]) -> None:
    """The runner's word on its running jobs: {job: (claim, reason or None when it no longer waits)}."""
    if not changes:
        return
    now = time.time()
    with store.transaction():
        for job_id, (claim, reason) in changes.items():
            if reason is None:
                store.sql("DELETE FROM job_wait WHERE job_id=?", (job_id,))
            else:
                store.sql("INSERT INTO job_wait (job_id, claim, reason, since) VALUES (?,?,?,?)"
                          " ON CONFLICT(job_id) DO UPDATE SET claim=excluded.claim, reason=excluded.reason,"
                          " since=CASE WHEN job_wait.reason = excluded.reason THEN job_wait.since"
                          " ELSE excluded.since END", (job_id, claim, reason, now))
