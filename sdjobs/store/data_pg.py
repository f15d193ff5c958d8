"""The data plane on PostgreSQL: worker processes' connections, and the bulk paths of the
index written with ``COPY``.

The verbs and their SQL are the data-plane modules' (one copy for both engines, see
``data_sql.py``); what is PostgreSQL's own is here:

- ``PgConnection``: a worker process's connection (``IndexReader``, ``ContentWorker``),
  opened from the library's URL in the process that uses it, speaking the modules' qmark
  SQL as ``sqlite3`` does (``execute``, ``executemany``, ``transaction``);
- ``PgDataPlane``: the verbs of ``data_sqlite.SQLDataPlane``, with the bulk path of the
  index's walk written through ``COPY ... FROM STDIN`` (binary), measured against
  multi-row INSERTs (``bench/bench_index_bulk.py``).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .data_sql import is_url  # noqa: F401  (the modules' test of an address)


@functools.lru_cache(maxsize=1024)
def qmark(query: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled). The modules' SQL
    has no ``?`` inside a string literal."""
    return query.replace("%", "%%").replace("?", "%s")


def _psycopg():
    try:
        import psycopg
    except ImportError:  # pragma: no cover (the library was opened: psycopg is there)
        from ..core.errors import BadInput

        raise BadInput("PostgreSQL libraries need psycopg: pip install 'sdjobs[postgres]'") from None
    return psycopg


class PgConnection:
    """One connection of a worker process, in autocommit (reads see the latest commit);
    ``transaction()`` groups writes."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        psycopg = _psycopg()
        self.url = url
        self.raw = psycopg.connect(url, autocommit=True)
        self.pid = os.getpid()
        self._cursors = 0

    def execute(self, query: str, params: Sequence = ()) -> Any:
        return self.raw.execute(qmark(query), params or None)

    def executemany(self, query: str, rows: Iterable[Sequence]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(qmark(query), rows)

    def batches(self, query: str, params: Sequence, size: int) -> Iterator[list]:
        """The rows of a query that may return many, ``size`` at a time, through a cursor
        of the server's (a client cursor would hold all of them in this process at once)."""
        self._cursors += 1
        with self.raw.cursor(name=f"sdjobs_rows_{self._cursors}", withhold=True) as cur:
            cur.itersize = size
            cur.execute(qmark(query), params or None)
            while rows := cur.fetchmany(size):
                yield rows

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.raw.transaction():
            yield

    def close(self) -> None:
        self.raw.close()


_conns: dict[tuple[int, str], PgConnection] = {}


def connection(url: str) -> PgConnection:
    """This process's connection to ``url`` (never one inherited through fork)."""
    pid = os.getpid()
    for key in [k for k in _conns if k[0] != pid]:
        del _conns[key]  # a parent's: never used (nor closed) here
    conn = _conns.get((pid, url))
    if conn is None or conn.raw.closed:
        conn = _conns[(pid, url)] = PgConnection(url)
    return conn


def errors() -> tuple[type[BaseException], ...]:
    """What a query of a PostgreSQL index may raise when there is no index to read."""
    return (_psycopg().Error,)


# -- the data plane ------------------------------------------------------------------------------
from .data_sqlite import SQLDataPlane  # noqa: E402  (after what the modules import of this one)
from . import index_store as ixs  # noqa: E402

_WALK_COLS = ixs.ROW_COLS  # path, name, kind, size, inode, device, mode, mtime_ns
_WALK_TYPES = ("int8", "bytea", "bytea", "text", "int8", "int8", "int8", "int8", "int8")
# How ``write_discovered`` writes a batch on PostgreSQL: "copy" (COPY into the table; a batch
# that meets rows already there is merged by multi-row INSERTs instead) or "insert" (the
# multi-row INSERTs SQLite uses). ``bench/bench_index_bulk.py`` measures both: COPY is 2.6x
# (first index) to 3x (re-index) the rows per second (bench/results/hosts.md; COPY into a
# temporary table merged by INSERT ... SELECT ... ON CONFLICT was measured too, and dropped).
BULK = os.environ.get("SDJOBS_PG_BULK", "copy")


ANALYZE_AFTER = 5000  # rows changed since the last ANALYZE (and a tenth of the table) that call for one


class PgDataPlane(SQLDataPlane):
    """The data plane of a ``PgStore``: ``SQLDataPlane``'s verbs and SQL, the index's walk
    written with ``COPY``."""

    def settle(self) -> None:
        """Statistics of the entries for the planner when a run changed many of them since
        they were last gathered (a first index; autovacuum would come to it later). A re-index
        that changed little leaves them (ANALYZE read 0.34 s of a 20,000-entry index)."""
        row = self._store._sql("SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables"
                               " WHERE relname = 'entry' AND schemaname = current_schema()").fetchone()
        if row is None or row[0] > max(ANALYZE_AFTER, row[1] // 10):
            self._store._sql("ANALYZE entry")

    def write_discovered(self, job_id: int, location_id: int, values: list, totals: list, *, fresh: bool,
                         cursor: bytes | None, state: bytes) -> None:
        if BULK == "insert":
            return super().write_discovered(job_id, location_id, values, totals, fresh=fresh, cursor=cursor,
                                            state=state)
        store = self._store
        with store._transaction():
            if fresh:
                if store._sql("SELECT 1 FROM location WHERE id=?", (location_id,)).fetchone() is None:
                    from ..core.errors import NotFound

                    raise NotFound("the location was removed while it was being indexed")
                self._copy_walk("entry", "location_id", location_id, values)
                ixs.write_totals(store, location_id, totals)
            else:
                self._copy_walk("index_scan", "job_id", job_id, values)
                ixs.stage_totals(store, job_id, totals)
            ixs.save_run(store, job_id, "discovery", cursor, state)

    def _copy_walk(self, table: str, owner: str, owner_id: int, values: list) -> None:
        """A batch of walked rows (flat values, 8 per entry) into ``table`` (``entry`` or
        ``index_scan``), each row as ``INSERT ... ON CONFLICT DO UPDATE`` would leave it."""
        if not values:
            return
        store = self._store
        rows = [(owner_id, *values[i:i + 8]) for i in range(0, len(values), 8)]
        merge = (f"ON CONFLICT (location_id, path) DO UPDATE SET {ixs._ROW_SET}" if table == "entry"
                 else ixs._STAGE_AGAIN)
        psycopg = _psycopg()
        try:
            with store._transaction():  # a savepoint: a batch that meets rows already there is undone
                _copy(store._db.cursor(), table, f"{owner}, {_WALK_COLS}", rows)
        except psycopg.errors.UniqueViolation:  # walked before (a resumed run, a location walked again)
            head = f"INSERT INTO {table} ({owner}, {_WALK_COLS})"
            ixs._insert_values(store, head, f"({int(owner_id)},?,?,?,?,?,?,?,?)", merge, values)


def _copy(cursor: Any, table: str, columns: str, rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(_WALK_TYPES))
        for row in rows:
            copy.write_row(row)
