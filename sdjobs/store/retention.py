"""History and retention: pruning finished jobs with the files they left in the library.

``prune_jobs`` is the one verb behind ``sdjobs jobs prune`` and the runner's retention
(``runner/retention.py``, the ``retention`` setting). A job goes with its events, its
dependencies and its result files (``results/<type>-<id>[-<part>].<ext>`` in the library's
data folder, as dupes and validate write them); a parent goes only once none of its
children is active. Result files are removed after the rows' transaction commits; a file
left by a crash in between, or by a job whose row is gone, is swept at the next prune.
Nothing outside the library's results folder is ever removed.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from pathlib import Path

from ..core.status import FINISHED

CHUNK = 2000  # jobs per transaction: a long prune never holds the write lock for long
TEMP_GRACE = 3600.0  # a results temp file older than this was left by a process that died
_RESULT = re.compile(r"[A-Za-z0-9_.-]+?-(\d+)(?:-[^/]*)?\.[A-Za-z0-9]+")
_TEMP = re.compile(r"\.[A-Za-z0-9_.-]+\.\d+\.tmp")
_FINISHED_SQL = "(" + ",".join(f"'{s.value}'" for s in FINISHED) + ")"


@dataclasses.dataclass
class Pruned:
    jobs: int = 0
    files: int = 0
    bytes: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def results_dir(store) -> Path:
    return Path(store.library.data_dir) / "results"


def prune_jobs(store, older_than: float, *, failed_older_than: float | None = None,
               now: float | None = None, limit: int | None = None) -> Pruned:
    """Delete finished jobs that finished more than ``older_than`` seconds ago, with their
    result files. ``failed_older_than``: failed jobs are kept this long instead (None: as
    the others; ``math.inf``: kept). ``limit``: at most about this many jobs this time
    (a runner's loop is not held up by a history of millions; it goes on at its next turn)."""
    now = time.time() if now is None else now
    cutoff = now - older_than
    failed_cutoff = cutoff if failed_older_than is None else (
        -math.inf if math.isinf(failed_older_than) else now - failed_older_than)
    done = Pruned()
    busy_parents = (f"id NOT IN (SELECT parent_id FROM job WHERE parent_id IS NOT NULL"
                    f" AND status NOT IN {_FINISHED_SQL})")
    while True:
        with store._transaction():
            ids = [r[0] for r in store._sql(
                f"SELECT id FROM job WHERE status IN {_FINISHED_SQL} AND finished_at < ?"
                f" AND (status != 'failed' OR finished_at < ?) AND {busy_parents} ORDER BY id LIMIT {CHUNK}",
                (cutoff, failed_cutoff if failed_cutoff != -math.inf else -1e300))]
            if ids:
                marks = ",".join("?" * len(ids))
                store._sql(f"DELETE FROM job WHERE id IN ({marks})", ids)
        if not ids:
            break
        done.jobs += len(ids)
        if len(ids) < CHUNK or (limit is not None and done.jobs >= limit):
            break
    files, nbytes = sweep_results(store, now=now)
    done.files, done.bytes = files, nbytes
    return done


def sweep_results(store, *, now: float | None = None) -> tuple[int, int]:
    """Remove the result files of jobs that are no longer in the library, and temp files
    that a dead writer left; returns (files, bytes) removed."""
    now = time.time() if now is None else now
    d = results_dir(store)
    try:
        names = os.listdir(d)
    except OSError:
        return 0, 0
    owners: dict[int, list[str]] = {}
    stale: list[str] = []
    for name in names:
        if (m := _RESULT.fullmatch(name)) is not None:
            owners.setdefault(int(m.group(1)), []).append(name)
        elif _TEMP.fullmatch(name):
            stale.append(name)
    ids = list(owners)
    alive: set[int] = set()
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        alive.update(r[0] for r in store._sql(f"SELECT id FROM job WHERE id IN ({','.join('?' * len(part))})", part))
    gone = [n for job_id, ns in owners.items() if job_id not in alive for n in ns]
    files = nbytes = 0
    for name in gone + stale:
        try:
            st = os.lstat(d / name)
            if name in stale and now - st.st_mtime < TEMP_GRACE:
                continue  # a writer may be at it now
            os.unlink(d / name)
        except OSError:
            continue
        files += 1
        nbytes += st.st_size
    return files, nbytes
