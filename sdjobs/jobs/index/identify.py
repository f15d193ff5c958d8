"""The content phase of the indexer: read what the files lack, on all cores.

The files of the run's scope that lack what the mode asks for (content id,
full hash, kind and image facts) are cut into id ranges; each range is one
task for the runner's workers (``ctx.map``). A worker selects its range,
reads the files and writes the results in one transaction of its own, then
answers with counts and errors only: the job process hardly works, and no
path or digest crosses a pipe. Ranges are answered in order; the end of the
last one answered is the cursor a resumed run starts after (what a worker
wrote past it is skipped anyway: it no longer lacks anything). Files that
could not be read stay without and are reported.
"""

from __future__ import annotations

import os
import sqlite3

from ...store import index_store as ixs
from . import diff
from .content import WANT_CAS, WANT_DEEP, WANT_FULL, identify_row
from .walk import BATCH

RANGE = max(1, min(BATCH // 4, 2000))  # files per task: a worker reads them and writes their results itself


def _selection(job) -> tuple[str, list]:
    need = []
    if job.want & WANT_CAS:
        need.append("(e.size > 0 AND e.cas_id IS NULL)")
    if job.want & WANT_FULL:
        need.append("e.full_hash IS NULL")
    if job.want & WANT_DEEP:
        need.append("e.kind_class IS NULL")
    # "+e.location_id": walk the rows by id from the cursor, not the (location, path) index
    cond, params = f"+e.location_id=? AND e.kind='file' AND ({' OR '.join(need)})", [job.loc.id]
    if not job.full_run:
        scopes = [diff.scope("e", t) for t in job.st["targets"]]
        cond += " AND (" + " OR ".join(s for s, _ in scopes) + ")"
        params += [p for _, ps in scopes for p in ps]
    return cond, params


def lacking_any(job) -> bool:
    """Whether a file of the run's scope still lacks what the mode asks for."""
    cond, params = _selection(job)
    return job.store.sql(f"SELECT 1 FROM entry e WHERE {cond} LIMIT 1", params).fetchone() is not None


def _ranges(job, cond: str, params: list, after: int):
    """(after, upto] id ranges of about RANGE files each; the last one open-ended."""
    while True:
        row = job.store.sql(f"SELECT e.id FROM entry e WHERE {cond} AND e.id > ? ORDER BY e.id"
                            f" LIMIT 1 OFFSET {RANGE - 1}", [*params, after]).fetchone()
        yield (after, None if row is None else row[0])
        if row is None:
            return
        after = row[0]


def identify_files(job) -> None:
    """The content phase of ``job`` (an Index job, after aggregation)."""
    ctx, store, st = job.ctx, job.store, job.st
    done_before = store.sql("SELECT identified_want FROM location WHERE id=?", (job.loc.id,)).fetchone()[0]
    if not (st["new"] or st["modified"] or st["moved"]) and job.want & done_before == job.want:
        st["content_skipped"] = True  # nothing changed, and nothing lacked after the last run
        return
    cond, params = _selection(job)
    total, nbytes = store.sql(f"SELECT count(*), coalesce(sum(e.size), 0) FROM entry e WHERE {cond} AND e.id > ?",
                              [*params, st["ccursor"]]).fetchone()
    full = bool(job.want & WANT_FULL)
    job._phase("content", total=total, unit="files", bytes_total=nbytes if full else None)
    if not total:
        st["identified"] = store.sql("SELECT identified FROM index_run WHERE job_id=?",
                                     (ctx.job_id,)).fetchone()[0]
        return
    db_path = str(store.library.db_path)
    tasks = ((db_path, ctx.job_id, cond, params, lo, hi, job.want)
             for lo, hi in _ranges(job, cond, params, st["ccursor"]))
    done = done_bytes = 0
    for n, _ok, size, errors, hi in ctx.map(identify_range, tasks, chunksize=1):
        done += n
        done_bytes += size
        for path, message in errors:
            ctx.error(path, message)
        with store.transaction():  # the worker committed its range before answering
            if hi is not None:
                st["ccursor"] = hi
            ixs.save_run(store, ctx.job_id, "content", None, st)
        ctx.check_interrupt()
        ctx.progress(done=done, **({"bytes_done": done_bytes} if full else {}))
        job._percent(done / max(1, total))
        job._test_delay()
    ctx.add_bytes(done_bytes)
    st["identified"] = store.sql("SELECT identified FROM index_run WHERE job_id=?", (ctx.job_id,)).fetchone()[0]


# -- in the worker processes ------------------------------------------------------------
_conn: tuple[int, str, sqlite3.Connection] | None = None


def _connection(db_path: str) -> sqlite3.Connection:
    """This process's own connection (never one inherited through fork)."""
    global _conn
    if _conn is None or _conn[0] != os.getpid() or _conn[1] != db_path:
        conn = sqlite3.connect(db_path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=60000")
        _conn = (os.getpid(), db_path, conn)
    return _conn[2]


def identify_range(task: tuple) -> tuple[int, int, int, list, int | None]:
    """Read the files of one id range that lack what ``want`` asks for, and write
    the results in one transaction. Returns (files, identified, bytes, errors, upto)."""
    db_path, job_id, cond, params, after, upto, want = task
    conn = _connection(db_path)
    sql = (f"SELECT e.id, e.path, e.size, e.cas_id IS NULL, e.full_hash IS NULL, e.kind_class IS NULL"
           f" FROM entry e WHERE {cond} AND e.id > ?" + ("" if upto is None else " AND e.id <= ?"))
    rows = conn.execute(sql, [*params, after] + ([] if upto is None else [upto])).fetchall()
    results, errors, nbytes = [], [], 0
    for entry_id, path_b, size, no_cas, no_full, no_kind in rows:
        flags = ((WANT_CAS if no_cas and size > 0 else 0) | (WANT_FULL if no_full else 0)
                 | (WANT_DEEP if no_kind else 0)) & want
        path = path_b.decode("utf-8", "surrogateescape")
        res = identify_row((entry_id, path, size, flags))
        nbytes += size
        if res[7] is not None:
            errors.append((path, res[7]))
        else:
            results.append(res)
    if results:
        if want == WANT_CAS:  # the common case: one column to set
            update, values = "UPDATE entry SET cas_id=? WHERE id=?", [(r[1], r[0]) for r in results]
        else:
            update = ("UPDATE entry SET cas_id=coalesce(?, cas_id), full_hash=coalesce(?, full_hash),"
                      " kind_class=coalesce(?, kind_class), width=coalesce(?, width), height=coalesce(?, height),"
                      " taken_at=coalesce(?, taken_at) WHERE id=?")
            values = [(*r[1:7], r[0]) for r in results]
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(update, values)
            conn.execute("UPDATE index_run SET identified = identified + ? WHERE job_id=?", (len(values), job_id))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(rows), len(results), nbytes, errors, upto
