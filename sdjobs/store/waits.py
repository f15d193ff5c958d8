"""Why a job waits, in words, wherever it is shown (`jobs ls`, `jobs show`, `jobs follow`).

  "after #1031"                           queued until the jobs it runs --after complete
  "waiting for 3 children"                a parent suspended until its children finish
  "waiting for a worker (held by #4, #7)" queued while every worker of the live runners is
                                          busy, or running but with no fan-out token (the
                                          runner's gate gives them to other jobs)
  "waiting for a runner"                  queued with no runner alive to claim it
  "waiting for a runner on host b"        queued (or interrupted) for host b, whose runner is not alive

The first three are read from the jobs table; a running job's want of a token only its
runner knows, and it records it here (``set_waits``), under the job's claim.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from collections.abc import Iterable

from .hosts import runs_here

if TYPE_CHECKING:
    from .api import Store
    from .records import JobRecord


def waiting_for(store: Store, rec: JobRecord) -> str | None:
    """What ``rec`` waits for, or None when it does not wait (or is not active)."""
    return waiting(store, [rec]).get(rec.id)


def waiting(store: Store, recs: Iterable[JobRecord]) -> dict[int, str]:
    """{job: what it waits for} for those of ``recs`` that wait (a few queries for them all)."""
    recs = list(recs)
    out: dict[int, str] = {}
    busy: dict[str, str] = {}
    for r in recs:  # an interrupted job of another host resumes once a runner of its host is back
        if r.status == "interrupted" and not runs_here(r.host):
            if r.host not in busy:
                busy[r.host] = _busy(store, r.host)
            if busy[r.host].startswith("waiting for a runner"):
                out[r.id] = busy[r.host]
    recs = [r for r in recs if r.status in ("queued", "running")]
    if not recs:
        return out
    running_recs = [r for r in recs if r.status == "running"]
    if running_recs:
        claims = {r.id: r.claim for r in running_recs}
        for job_id, claim, reason in _rows(store, "SELECT job_id, claim, reason FROM job_wait WHERE job_id IN",
                                           list(claims)):
            if claims[job_id] == claim:
                out[job_id] = reason
    queued = [r for r in recs if r.status == "queued"]
    if not queued:
        return out
    ids = [r.id for r in queued]
    deps: dict[int, list[int]] = {}
    for job_id, dep in _rows(store, "SELECT d.job_id, d.depends_on FROM job_dep d JOIN job j ON j.id = d.depends_on"
                             " WHERE j.status NOT IN ('completed', 'completed-with-errors') AND d.job_id IN", ids):
        deps.setdefault(job_id, []).append(dep)
    kids = dict(_rows(store, "SELECT parent_id, COUNT(*) FROM job WHERE status NOT IN ('completed',"
                      " 'completed-with-errors', 'failed', 'cancelled') AND parent_id IN", ids, " GROUP BY parent_id"))
    for r in queued:
        if r.id in deps:
            out[r.id] = "after " + ", ".join(f"#{d}" for d in sorted(deps[r.id]))
        elif r.wait_children and kids.get(r.id):
            n = kids[r.id]
            out[r.id] = f"waiting for {n} child{'ren' if n != 1 else ''}"
        else:
            if r.host not in busy:
                busy[r.host] = _busy(store, r.host)
            if busy[r.host]:
                out[r.id] = busy[r.host]
    return out


def _busy(store: Store, host: str = "any") -> str:
    """Why a runnable job of ``host`` is not running: no runner that takes it, or every worker of
    those busy ('' if one is free)."""
    runners = store.runners()
    if host != "any":
        names = store.host_names()
        runners = [x for x in runners if host in (x.host, names.get(x.host))]
        if not runners:
            return f"waiting for a runner on host {names.get(host, host)}"
    if not runners:
        return "waiting for a runner"
    ids = [x.id for x in runners]
    running = [r[0] for r in _rows(store, "SELECT id FROM job WHERE status='running' AND runner_id IN", ids,
                                   " ORDER BY id")]
    if len(running) < sum(r.workers for r in runners):
        return ""  # a worker is free: claimed at the runner's next look
    return held_by(running)


def _rows(store: Store, query: str, ids: list[int], tail: str = "") -> list[tuple]:
    rows: list[tuple] = []
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        rows += store._sql(f"{query} ({','.join('?' * len(part))}){tail}", part).fetchall()
    return rows


def held_by(ids: list[int]) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"waiting for a worker (held by {shown})" if ids else "waiting for a worker"


def set_waits(store: Store, changes: dict[int, tuple[int, str | None]]) -> None:
    """The runner's word on its running jobs: {job: (claim, reason or None when it no longer waits)}."""
    if not changes:
        return
    now = time.time()
    with store._transaction():
        for job_id, (claim, reason) in changes.items():
            if reason is None:
                store._sql("DELETE FROM job_wait WHERE job_id=?", (job_id,))
            else:
                store._sql("INSERT INTO job_wait (job_id, claim, reason, since) VALUES (?,?,?,?)"
                           " ON CONFLICT(job_id) DO UPDATE SET claim=excluded.claim, reason=excluded.reason,"
                           " since=CASE WHEN job_wait.reason = excluded.reason THEN job_wait.since"
                           " ELSE excluded.since END", (job_id, claim, reason, now))
