"""The content phase of an index run, as the store sees it: which files lack a content id,
a full hash or kind facts, in id ranges the runner's workers take one each, and the
workers' writes of what they read (the job's side is ``jobs/index/identify.py``).

A bulk path of the index: one hand-written UPDATE per range, in the worker's own
connection (``ContentWorker``), committed before the worker answers.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any, NamedTuple
from collections.abc import Iterator, Sequence

from .index_diff import scope as _scope

RANGE = 256  # files per worker task


class ContentScope(NamedTuple):
    """The files of a location that lack what a run asks for: a content id (``cas``), a
    full xxh3-128 (``full``), kind and image facts (``deep``); within ``targets`` (each with
    all below it) or, when None, the whole location."""

    location_id: int
    cas: bool
    full: bool
    deep: bool
    targets: tuple[str, ...] | None = None


class ContentRow(NamedTuple):
    """A file to read: what it lacks is flagged."""

    id: int
    path: str
    size: int
    no_cas: bool
    no_full: bool
    no_kind: bool


class ContentFound(NamedTuple):
    """What a worker read of one file (None: not asked for, or not found)."""

    id: int
    cas_id: str | None
    full_hash: str | None
    kind_class: str | None
    width: int | None
    height: int | None
    taken_at: str | None


def _selection(s: ContentScope) -> tuple[str, list]:
    need = []
    if s.cas:
        need.append("(e.size > 0 AND e.cas_id IS NULL)")
    if s.full:
        need.append("e.full_hash IS NULL")
    if s.deep:
        need.append("e.kind_class IS NULL")
    if not need:
        need.append("1=0")
    # "+e.location_id": walk the rows by id from the cursor, not the (location, path) index
    cond, params = f"+e.location_id=? AND e.kind='file' AND ({' OR '.join(need)})", [s.location_id]
    if s.targets is not None:
        scopes = [_scope("e", t) for t in s.targets]
        cond += " AND (" + " OR ".join(c for c, _ in scopes) + ")"
        params += [p for _, ps in scopes for p in ps]
    return cond, params


def lacking_any(store, s: ContentScope) -> bool:
    cond, params = _selection(s)
    return store._sql(f"SELECT 1 FROM entry e WHERE {cond} LIMIT 1", params).fetchone() is not None


def todo(store, s: ContentScope, after: int) -> tuple[int, int]:
    """(files, bytes) left to read after entry id ``after``."""
    cond, params = _selection(s)
    n, size = store._sql(f"SELECT count(*), coalesce(sum(e.size), 0) FROM entry e WHERE {cond} AND e.id > ?",
                        [*params, after]).fetchone()
    return int(n), int(size)


def ranges(store, s: ContentScope, after: int, size: int = RANGE) -> Iterator[tuple[int, int | None]]:
    """(after, upto] entry id ranges of about ``size`` files each; the last one open-ended."""
    cond, params = _selection(s)
    while True:
        row = store._sql(f"SELECT e.id FROM entry e WHERE {cond} AND e.id > ? ORDER BY e.id"
                        f" LIMIT 1 OFFSET {int(size) - 1}", [*params, after]).fetchone()
        yield (after, None if row is None else row[0])
        if row is None:
            return
        after = row[0]


def identified(store, job_id: int) -> int:
    row = store._sql("SELECT identified FROM index_run WHERE job_id=?", (job_id,)).fetchone()
    return row[0] if row else 0


def identified_want(store, location_id: int) -> int:
    """What every file of the location had after its last run (the job's WANT_* bits)."""
    row = store._sql("SELECT identified_want FROM location WHERE id=?", (location_id,)).fetchone()
    return row[0] if row else 0


# -- in the worker processes ------------------------------------------------------------
_conn: tuple[int, str, sqlite3.Connection] | None = None


def _connection(db_path: str) -> Any:
    """This process's own connection (never one inherited through fork): ``sqlite3``'s,
    or ``data_pg.PgConnection`` for a PostgreSQL library."""
    from .data_sql import is_url

    if is_url(db_path):
        from .data_pg import connection

        return connection(db_path)
    global _conn
    if _conn is None or _conn[0] != os.getpid() or _conn[1] != db_path:
        conn = sqlite3.connect(db_path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=60000")
        _conn = (os.getpid(), db_path, conn)
    return _conn[2]


class ContentWorker:
    """The handle a worker process reads and writes a content range with; picklable
    (it holds the library's address, each process opens its own connection)."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path

    def __repr__(self) -> str:
        from .data_sql import is_url
        from .libpath import without_password

        return f"ContentWorker({without_password(self.db_path) if is_url(self.db_path) else self.db_path!r})"

    def rows(self, s: ContentScope, after: int, upto: int | None) -> list[ContentRow]:
        cond, params = _selection(s)
        sql = (f"SELECT e.id, e.path, e.size, e.cas_id IS NULL, e.full_hash IS NULL, e.kind_class IS NULL"
               f" FROM entry e WHERE {cond} AND e.id > ?" + ("" if upto is None else " AND e.id <= ?"))
        rows = _connection(self.db_path).execute(sql, [*params, after] + ([] if upto is None else [upto])).fetchall()
        return [ContentRow(i, bytes(p).decode("utf-8", "surrogateescape"), size, bool(a), bool(b), bool(c))
                for i, p, size, a, b, c in rows]

    def record(self, job_id: int, found: Sequence[ContentFound], *, cas_only: bool) -> None:
        """Store what was read (one transaction, with the run's count of identified files);
        ``cas_only``: only content ids were asked for (one column to set)."""
        if not found:
            return
        values: list[tuple]
        if cas_only:
            update, values = "UPDATE entry SET cas_id=? WHERE id=?", [(r.cas_id, r.id) for r in found]
        else:
            update = ("UPDATE entry SET cas_id=coalesce(?, cas_id), full_hash=coalesce(?, full_hash),"
                      " kind_class=coalesce(?, kind_class), width=coalesce(?, width), height=coalesce(?, height),"
                      " taken_at=coalesce(?, taken_at) WHERE id=?")
            values = [(*r[1:7], r.id) for r in found]
        conn = _connection(self.db_path)
        if getattr(conn, "dialect", "sqlite") == "postgres":
            with conn.transaction():
                _record_pg(conn, found, cas_only)
                conn.execute("UPDATE index_run SET identified = identified + ? WHERE job_id=?", (len(values), job_id))
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(update, values)
            conn.execute("UPDATE index_run SET identified = identified + ? WHERE job_id=?", (len(values), job_id))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


_FOUND_TYPES = ("bigint", "text", "text", "text", "bigint", "bigint", "text")


def _record_pg(conn: Any, found: Sequence[ContentFound], cas_only: bool) -> None:
    """``record``'s UPDATE on PostgreSQL: one statement over the columns passed as arrays
    (``unnest``), not one per file: 3x the rows per second of ``executemany``
    (``bench/bench_index_bulk.py``)."""
    if cas_only:
        conn.execute("UPDATE entry SET cas_id = f.cas_id FROM unnest(?::bigint[], ?::text[]) AS f(id, cas_id)"
                     " WHERE entry.id = f.id", ([r.id for r in found], [r.cas_id for r in found]))
        return
    names = ContentFound._fields
    sets = ", ".join(f"{c} = coalesce(f.{c}, entry.{c})" for c in names[1:])
    arrays = ", ".join(f"?::{t}[]" for t in _FOUND_TYPES)
    conn.execute(f"UPDATE entry SET {sets} FROM unnest({arrays}) AS f({', '.join(names)}) WHERE entry.id = f.id",
                 [list(col) for col in zip(*found, strict=True)])
