"""Read-only queries of the index for dupes (the schema is in schema/index.py),
and where dupes keeps the groups it worked out from a location's index.

Each query function takes a worker's connection from ``connect_ro`` (a plain ``sqlite3``
one, or ``data_pg.PgConnection`` on PostgreSQL: the same qmark SQL, and a fragment of its
``data_sql.Dialect`` where they differ): they run in worker processes as well as in the
job's. Paths are the stored BLOBs.
``indexed_files`` (dupes ``--indexed``, every host's locations) runs on the job's store.

The bulk queries return what SQLite can assemble in C as one string per
column (``group_concat``) instead of one Python tuple per row: on 200,000
entries that is ~0.2 s instead of ~0.6 s, most of a re-run's budget.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from .data_sql import dialect

_HASHED = "kind='file' AND full_hash IS NOT NULL"


def connect_ro(db: str):
    """A connection for reading the index at ``db`` (an SQLite file, or a PostgreSQL URL)."""
    from .data_sql import is_url

    if is_url(db):
        from .data_pg import connection

        return connection(db)
    conn = sqlite3.connect(f"file:{quote(db)}?mode=ro", uri=True, timeout=30)
    # pages through the page cache's mapping, not one pread per page
    conn.execute("PRAGMA mmap_size=1073741824")
    return conn


def _size_clause(min_size: int, max_size: int | None) -> tuple[str, tuple]:
    if max_size is None:
        return "size >= ?", (min_size,)
    return "size BETWEEN ? AND ?", (min_size, max_size)


def location_of(conn: sqlite3.Connection, host: str, keys: list[bytes]) -> tuple | None:
    """(id, path, rules, full_hash, max_depth, recurse, (indexed_at, last_job_id,
    entries, total_size, digest)) of ``host``'s location whose root is one of ``keys``
    (a real path and its ancestors), the deepest one. The last item changes with
    every index run that ends."""
    row = conn.execute(
        f"SELECT id, path, rules, full_hash, max_depth, recurse, indexed_at, last_job_id, entries, total_size,"
        f" digest FROM location WHERE host=? AND path IN ({','.join('?' * len(keys))})"
        f" ORDER BY length(path) DESC LIMIT 1", [host, *keys]).fetchone()
    return None if row is None else (*row[:6], row[6:])


def index_busy_since(conn: sqlite3.Connection, since: float) -> bool:
    """Whether an index job runs, or has changed state since ``since`` (time.time())."""
    return conn.execute("SELECT 1 FROM job WHERE type='index' AND (status='running' OR updated_at >= ?"
                        " OR finished_at >= ?) LIMIT 1", (since, since)).fetchone() is not None


# -- groups worked out from an index: store/kept_groups.py ----------------------------------
def groups_dir(db: str | os.PathLike) -> Path:
    from .kept_groups import groups_dir

    return groups_dir(db)


def forget_groups(db: str | os.PathLike, location_id: int) -> None:
    from .kept_groups import KeptGroups

    KeptGroups(db).forget(location_id)


def indexing(conn: sqlite3.Connection, location_id: int) -> bool:
    """Whether an index run of the location is under way (its rows are in flux)."""
    return conn.execute("SELECT 1 FROM index_run WHERE location_id=? LIMIT 1", (location_id,)).fetchone() is not None


def dir_digest(conn: sqlite3.Connection, location_id: int, path: bytes, is_root: bool) -> int | None:
    """The stored digest of a directory's direct children (None: unknown)."""
    if is_root:
        row = conn.execute("SELECT digest FROM location WHERE id=?", (location_id,)).fetchone()
    else:
        row = conn.execute("SELECT digest FROM entry WHERE location_id=? AND path=? AND kind='dir'",
                           (location_id, path)).fetchone()
    return row[0] if row else None


def children(conn: sqlite3.Connection, location_id: int, dir_path: bytes) -> list[tuple]:
    """(path, kind, size, inode, device, mtime_ns, full_hash) of the stored direct children of a directory."""
    lo = dir_path.rstrip(b"/") + b"/"
    return conn.execute(
        "SELECT path, kind, size, inode, device, mtime_ns, full_hash FROM entry WHERE location_id=?"
        f" AND path >= ? AND path < ? AND {dialect(conn).no_slash_after('path', len(lo) + 1)}",
        (location_id, lo, lo[:-1] + b"0")).fetchall()


def hashed_concat(conn: sqlite3.Connection, location_id: int, lo: bytes, hi: bytes, min_size: int,
                  max_size: int | None, hash_lo: str, hash_hi: str, mtimes: bool, count_unhashed: bool) -> tuple:
    """The files of [lo, hi) with a stored full hash in [hash_lo, hash_hi), in
    path order, as one bytes string per column (None if there are none):
    ``hash + size`` and ``inode:device`` joined by ',', the paths (as stored)
    joined by NUL, with ``mtimes`` the mtime_ns joined by ','; then, with
    ``count_unhashed``, the number of files without a stored full hash."""
    size_sql, size_args = _size_clause(min_size, max_size)
    has = "FILTER (WHERE full_hash IS NOT NULL)" if count_unhashed else ""
    if dialect(conn).name == "postgres":
        return _hashed_concat_pg(conn, location_id, lo, hi, size_sql, size_args, hash_lo, hash_hi, mtimes,
                                 count_unhashed, has)
    mtime_col = f"group_concat(mtime_ns, ',') {has}" if mtimes else "NULL"
    where = "(full_hash IS NULL OR full_hash >= ? AND full_hash < ?)" if count_unhashed else \
        "full_hash >= ? AND full_hash < ?"
    old = conn.text_factory
    conn.text_factory = bytes
    try:
        return conn.execute(
            f"SELECT group_concat(full_hash || size, ',') {has}, group_concat(inode || ':' || device, ',') {has},"
            f" group_concat(path, x'00') {has}, {mtime_col},"
            f" {'count(*) FILTER (WHERE full_hash IS NULL)' if count_unhashed else '0'}"
            f" FROM entry WHERE location_id=? AND path >= ? AND path < ? AND kind='file' AND {size_sql} AND {where}",
            (location_id, lo, hi, *size_args, hash_lo, hash_hi)).fetchone()
    finally:
        conn.text_factory = old


def _hashed_concat_pg(conn, location_id: int, lo: bytes, hi: bytes, size_sql: str, size_args: tuple,
                      hash_lo: str, hash_hi: str, mtimes: bool, count_unhashed: bool, has: str) -> tuple:
    """``hashed_concat`` on PostgreSQL: ``string_agg`` in path order, the text columns as bytes."""
    def agg(expr: str) -> str:
        return f"convert_to(string_agg({expr}, ',' ORDER BY path) {has}, 'UTF8')"

    where = "(full_hash IS NULL OR full_hash >= ? AND full_hash < ?)" if count_unhashed else \
        "full_hash >= ? AND full_hash < ?"
    keys, idents = agg("full_hash || size::text"), agg("inode::text || ':' || device::text")
    row = conn.execute(
        f"SELECT {keys}, {idents}, string_agg(path, '\\x00'::bytea ORDER BY path) {has},"
        f" {agg('mtime_ns::text') if mtimes else 'NULL'},"
        f" {'count(*) FILTER (WHERE full_hash IS NULL)' if count_unhashed else '0'}"
        f" FROM entry WHERE location_id=? AND path >= ? AND path < ? AND kind='file' AND {size_sql} AND {where}",
        (location_id, lo, hi, *size_args, hash_lo, hash_hi)).fetchone()
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)


def unhashed(conn: sqlite3.Connection, location_id: int, lo: bytes, hi: bytes, min_size: int,
             max_size: int | None) -> list[tuple]:
    """(path, size, inode, device, mtime_ns) of files of [lo, hi) without a stored full hash."""
    size_sql, size_args = _size_clause(min_size, max_size)
    return conn.execute(
        f"SELECT path, size, inode, device, mtime_ns FROM entry WHERE location_id=? AND path >= ? AND path < ?"
        f" AND kind='file' AND full_hash IS NULL AND {size_sql}", (location_id, lo, hi, *size_args)).fetchall()


def keys_of(conn: sqlite3.Connection, location_id: int, paths: list[bytes],
            ranges: list[tuple[bytes, bytes]]) -> set[tuple[int, str]]:
    """(size, full_hash) of the stored files at ``paths`` and in the ``ranges``."""
    out: set[tuple[int, str]] = set()
    for p in paths:
        row = conn.execute(f"SELECT size, full_hash FROM entry WHERE location_id=? AND path=? AND {_HASHED}",
                           (location_id, p)).fetchone()
        if row:
            out.add(row)
    for lo, hi in ranges:
        out.update(conn.execute(f"SELECT size, full_hash FROM entry WHERE location_id=? AND path >= ?"
                                f" AND path < ? AND {_HASHED}", (location_id, lo, hi)))
    return out


def hashed_of_sizes(conn: sqlite3.Connection, location_id: int, lo: bytes, hi: bytes,
                    sizes: set[int]) -> list[tuple]:
    """(path, size, inode, device, mtime_ns, full_hash) of the files of [lo, hi)
    with a stored full hash whose size is one of ``sizes``."""
    out: list[tuple] = []
    sizes_l = sorted(sizes)
    for i in range(0, len(sizes_l), 500):
        part = sizes_l[i:i + 500]
        out += conn.execute(
            f"SELECT path, size, inode, device, mtime_ns, full_hash FROM entry WHERE location_id=? AND path >= ?"
            f" AND path < ? AND {_HASHED} AND size IN ({','.join('?' * len(part))})",
            (location_id, lo, hi, *part)).fetchall()
    return out


# -- dupes --indexed: every file of the index that may have a duplicate --------------------------
# Through the job's store (``store._sql``, portable SQL) rather than a worker's connection: one
# query, read once, by the job.
def indexed_files(store, host: str | None, min_size: int, max_size: int | None, digests: bool) -> Iterator[tuple]:
    """(host, path, size, inode, device, mtime_ns, cas_id, full_hash) of the indexed files of
    ``host``'s locations (every host's if None) whose size another such file has, by size;
    with ``digests``, only the files with a content id or a full hash whose size and content
    id (full hash, for a file without one) another such file has: what ``dupes.across``
    groups by, so the rows of files with no possible duplicate never leave the database."""
    cond = "e.kind = 'file' AND e.size >= ?"
    params: list = [min_size]
    if max_size is not None:
        cond += " AND e.size <= ?"
        params.append(max_size)
    if host is not None:
        cond += " AND l.host = ?"
        params.append(host)
    key = "e.size"
    if digests:
        cond += " AND (e.cas_id IS NOT NULL OR e.full_hash IS NOT NULL)"
        key = "e.size, coalesce(e.cas_id, 'F' || e.full_hash)"
    files = "entry e JOIN location l ON l.id = e.location_id"
    cur = store._sql(
        f"SELECT l.host, e.path, e.size, e.inode, e.device, e.mtime_ns, e.cas_id, e.full_hash FROM {files}"
        f" WHERE {cond} AND ({key}) IN (SELECT {key} FROM {files} WHERE {cond} GROUP BY {key} HAVING count(*) > 1)"
        f" ORDER BY e.size, l.host, e.path", params * 2)
    while rows := cur.fetchmany(5000):
        for host_, path, *rest in rows:
            yield (host_, os.fsdecode(bytes(path)), *rest)
