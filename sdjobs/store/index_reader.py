"""Read-only lookups of the index from worker processes: ``IndexReader``.

Workers of the runner's pool (dupes' scan, verify and grouping, the indexer's verifying
walk, validate) read the index on their own, so the job process does not ship rows to
them. An ``IndexReader`` is picklable: it holds the library's address only (an SQLite
file, or a PostgreSQL URL: ``data_pg.PgConnection``), and each process opens one
read-only connection of its own on first use (never one inherited through fork) and keeps
it for the tasks that follow: cheaper than a connection per task.

The lookups are hot paths of dupes; their SQL is hand-written (``dupes_queries``) and
stays here, behind these verbs. Paths are the stored BLOBs (bytes) where the caller
works in bytes, ``str`` (surrogateescape) otherwise.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any, NamedTuple
from collections.abc import Iterable, Iterator

from ..core.hostid import this_host
from . import dupes_queries as q
from .data_sql import is_url
from .index_store import canonical, subtree_range
from .kept_groups import KeptGroups

_fsencode = os.fsencode

# one connection per (process, library) that reads the index
_conns: dict[tuple[int, str], tuple[sqlite3.Connection, tuple[int, int]]] = {}


class StoredDigest(NamedTuple):
    """A stored file with a digest: its full xxh3-128 (``full_hash``) or, failing that,
    its sampled content id (``cas_id``)."""

    path: str
    size: int
    inode: int
    device: int
    mtime_ns: int
    full_hash: str | None
    cas_id: str | None


class IndexUnreadable(Exception):
    """There is no index to read at the reader's address (no library, no index tables)."""


_DIGEST_COLS = "path, size, inode, device, mtime_ns, full_hash, cas_id"
_HAS_DIGEST = "kind='file' AND (full_hash IS NOT NULL OR cas_id IS NOT NULL)"


class IndexReader:
    """Read-only verbs over one library's index, for worker processes."""

    def __init__(self, db_path: str, data_dir: str | None = None) -> None:
        self.db_path = db_path  # the library's address: an SQLite file or a PostgreSQL URL
        self.data_dir = data_dir  # where kept groups live (None: beside the SQLite file)
        self._c: Any = None
        self._pid = 0

    def __reduce__(self):
        return (IndexReader, (self.db_path, self.data_dir))

    def __repr__(self) -> str:
        from .libpath import without_password

        return f"IndexReader({without_password(self.db_path) if is_url(self.db_path) else self.db_path!r})"

    def _conn(self) -> Any:
        if self._c is not None and self._pid == os.getpid():
            return self._c
        pid = os.getpid()
        if is_url(self.db_path):
            from .data_pg import connection, errors

            try:
                self._c, self._pid = connection(self.db_path), pid
            except errors() as exc:
                raise IndexUnreadable(str(exc).strip()) from None
            return self._c
        try:
            st = os.stat(self.db_path)
        except OSError:
            raise IndexUnreadable(f"no library at {self.db_path}") from None
        for key in [k for k in _conns if k[0] != pid]:
            del _conns[key]  # inherited through fork: never used (nor closed) here
        known = _conns.get((pid, self.db_path))
        if known is None or known[1] != (st.st_dev, st.st_ino):  # a library made anew at the same path
            try:
                conn = q.connect_ro(self.db_path)
            except sqlite3.Error as exc:
                raise IndexUnreadable(str(exc)) from None
            known = _conns[(pid, self.db_path)] = (conn, (st.st_dev, st.st_ino))
        self._c, self._pid = known[0], pid
        return self._c

    def close(self) -> None:
        if is_url(self.db_path):
            self._c = None  # (the process's connection stays, for its other readers)
            return
        known = _conns.pop((os.getpid(), self.db_path), None)
        if known is not None:
            known[0].close()
        self._c = None

    def kept(self) -> KeptGroups:
        """Where dupes keeps the groups it worked out from this library's index."""
        if self.data_dir is not None:
            return KeptGroups(data_dir=self.data_dir)
        return KeptGroups(self.db_path)

    # -- dupes: the location and its stored hashes -----------------------------------------
    def location_of(self, path: str) -> tuple | None:
        """(id, path, rules, full_hash, max_depth, recurse, state) of this host's deepest location
        whose root is ``path`` (real) or one of its ancestors; ``state`` changes with every
        index run that ends (``dupes_queries.location_of``)."""
        keys, p = [], path
        while True:
            keys.append(_fsencode(p))
            parent = os.path.dirname(p)
            if parent == p:
                break
            p = parent
        return q.location_of(self._conn(), this_host(), keys)

    def indexing(self, location_id: int) -> bool:
        return q.indexing(self._conn(), location_id)

    def index_busy_since(self, since: float) -> bool:
        return q.index_busy_since(self._conn(), since)

    def dir_digest(self, location_id: int, path: bytes, is_root: bool) -> int | None:
        return q.dir_digest(self._conn(), location_id, path, is_root)

    def children(self, location_id: int, dir_path: bytes) -> list[tuple]:
        return q.children(self._conn(), location_id, dir_path)

    def hashed_concat(self, location_id: int, lo: bytes, hi: bytes, min_size: int, max_size: int | None,
                      hash_lo: str, hash_hi: str, mtimes: bool, count_unhashed: bool) -> tuple:
        return q.hashed_concat(self._conn(), location_id, lo, hi, min_size, max_size, hash_lo, hash_hi, mtimes,
                               count_unhashed)

    def unhashed(self, location_id: int, lo: bytes, hi: bytes, min_size: int, max_size: int | None) -> list[tuple]:
        return q.unhashed(self._conn(), location_id, lo, hi, min_size, max_size)

    def keys_of(self, location_id: int, paths: list[bytes], ranges: list[tuple[bytes, bytes]]) -> set:
        return q.keys_of(self._conn(), location_id, paths, ranges)

    def hashed_of_sizes(self, location_id: int, lo: bytes, hi: bytes, sizes: set[int]) -> list[tuple]:
        return q.hashed_of_sizes(self._conn(), location_id, lo, hi, sizes)

    # -- stored digests of files (dupes' scan) ----------------------------------------------
    def stored_digests(self, paths: Iterable[str] | None = None, *, subtree: str | None = None
                       ) -> Iterator[StoredDigest]:
        """The stored files with a digest below ``subtree`` (one range query), or at each
        of ``paths`` (one query each), in the caller's spelling. Raises ``IndexUnreadable``
        when there is no index to read (no tables, a library being migrated)."""
        try:
            yield from self._stored_digests(paths, subtree)
        except self._errors() as exc:
            raise IndexUnreadable(str(exc)) from None

    def _errors(self) -> tuple[type[BaseException], ...]:
        if is_url(self.db_path):
            from .data_pg import errors

            return errors()
        return (sqlite3.Error,)

    def _stored_digests(self, paths: Iterable[str] | None, subtree: str | None) -> Iterator[StoredDigest]:
        conn = self._conn()
        if subtree is not None:
            given = os.path.abspath(subtree)
            real = canonical(given)
            loc = self._location_id(real)
            if loc is None:
                return
            lo, hi = subtree_range(real)
            cut = len(real.rstrip("/"))
            base = given.rstrip("/") if given != real else None
            make = StoredDigest._make
            for rows in _batches(conn, f"SELECT {_DIGEST_COLS} FROM entry WHERE location_id=? AND path >= ?"
                                 f" AND path < ? AND {_HAS_DIGEST}", (loc, lo, hi), 5000):
                for raw, *rest in rows:
                    p = raw.decode("utf-8", "surrogateescape")
                    yield make((base + p[cut:] if base is not None else p, *rest))
            return
        for path in paths or ():
            real = canonical(os.path.abspath(path))
            loc = self._location_id(real)
            if loc is None:
                continue
            for row in conn.execute(f"SELECT {_DIGEST_COLS} FROM entry WHERE location_id=? AND path=?"
                                    f" AND {_HAS_DIGEST}", (loc, _fsencode(real))):
                yield StoredDigest(path, *row[1:])

    def _location_id(self, real: str) -> int | None:
        row = self.location_of(real)
        return None if row is None else row[0]

    # -- the indexer's verifying walk --------------------------------------------------------
    def dir_stored(self, location_id: int, path: str, is_root: bool) -> tuple | None:
        """(digest, subtree_size, subtree_files) stored for a directory (the root: its
        digest only, the others None), or None."""
        conn = self._conn()
        if is_root:
            return conn.execute("SELECT digest, NULL, NULL FROM location WHERE id=?", (location_id,)).fetchone()
        return conn.execute("SELECT digest, subtree_size, subtree_files FROM entry WHERE location_id=?"
                            " AND path=? AND kind='dir'", (location_id, _fsencode(path))).fetchone()

    # -- validate ---------------------------------------------------------------------------
    def file_rows(self, location_id: int, given: str, real: str, batch: int = 5000
                  ) -> Iterator[tuple[str, tuple]]:
        """(path in the spelling of ``given``, (size, mtime_ns, inode, full_hash)) of each
        indexed file at or under ``real``, in path order."""
        lo, hi = subtree_range(real)
        cut, base = len(real.rstrip("/")), given.rstrip("/")
        swap = given != real
        for rows in _batches(self._conn(), "SELECT path, size, mtime_ns, inode, full_hash FROM entry WHERE"
                             " location_id=? AND ((path >= ? AND path < ?) OR path = ?) AND kind='file' ORDER BY path",
                             (location_id, lo, hi, _fsencode(real)), batch):
            for raw, *stored in rows:
                p = raw.decode("utf-8", "surrogateescape")
                yield base + p[cut:] if swap else p, tuple(stored)


def _batches(conn: Any, query: str, params: tuple, size: int) -> Iterator[list]:
    """The rows of a long scan, ``size`` at a time, read as they are used (PostgreSQL: a
    cursor of the server's, ``PgConnection.batches``)."""
    if getattr(conn, "dialect", "sqlite") == "postgres":
        yield from conn.batches(query, params, size)
        return
    cur = conn.execute(query, params)
    while rows := cur.fetchmany(size):
        yield rows
