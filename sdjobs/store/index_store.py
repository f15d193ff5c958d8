"""Reads and bulk writes of indexed locations and their entries.

Plain SQL over the tables of ``schema/index.py``; no per-row ORM objects.
Paths cross this module as ``str`` (surrogateescape, as ``os`` gives them) and
are stored as BLOBs (``os.fsencode``).

The read API other jobs use (dupes, validate, thumbs):

- ``find_location(store, path)``: the indexed location containing ``path``.
- ``entries_under(store, path)``: the stored entries at and below ``path``.
- ``full_hashes_stored(store, location_id)``: whether full hashes are there.

Locations are stored by their real path (symlinks resolved); the lookups
accept any spelling and hand paths back in the caller's spelling.

Every location belongs to a host (``core/hostid.py:this_host``, the host that indexed
it): paths are this host's, so every lookup by path looks only at this host's
locations; ``list_locations`` lists every host's.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple
from collections.abc import Iterator

from ..core import codec
from ..core.errors import NotFound
from .data_sql import NO_FLATTEN, dialect, many
from ..core.hostid import this_host

_fsencode, _fsdecode = os.fsencode, os.fsdecode


class LocationRow(NamedTuple):
    """One indexed location. ``path`` is the real path of its root."""

    id: int
    path: str
    rules: dict
    mode: str
    full_hash: bool
    max_depth: int | None
    recurse: bool
    created_at: float
    indexed_at: float | None
    entries: int
    total_size: int
    last_changes: dict
    last_job_id: int | None
    host: str = ""      # the host whose paths these are (``core/hostid.py``)


_LOC_COLS = ("id, path, rules, mode, full_hash, max_depth, recurse, created_at, indexed_at, entries,"
             " total_size, last_changes, last_job_id, host")


def _location(row) -> LocationRow:
    (id_, path, rules, mode, full, depth, recurse, created, indexed, entries, total, changes, job, host) = row
    return LocationRow(id_, _fsdecode(path), codec.unpack(rules) or {}, mode, bool(full), depth, bool(recurse),
                       created, indexed, entries, total, codec.unpack(changes) or {}, job, host)


class EntryRow(NamedTuple):
    """One stored entry. ``full_hash`` and ``cas_id`` are None when not computed
    (or for directories, symlinks and empty files); ``kind`` is one of file,
    dir, symlink, other; ``kind_class``/``width``/``height``/``taken_at`` are
    filled in deep mode only; ``subtree_*`` for directories only."""

    path: str
    kind: str
    size: int
    inode: int
    device: int
    mtime_ns: int
    cas_id: str | None
    full_hash: str | None
    mode: int
    kind_class: str | None
    width: int | None
    height: int | None
    taken_at: str | None
    subtree_size: int | None
    subtree_files: int | None
    location_id: int
    id: int

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def parent(self) -> str:
        return os.path.dirname(self.path)


_ENTRY_COLS = ("path, kind, size, inode, device, mtime_ns, cas_id, full_hash, mode, kind_class, width, height,"
               " taken_at, subtree_size, subtree_files, location_id, id")


def canonical(path: str | os.PathLike) -> str:
    """The absolute real path used to store a location (str, surrogateescape)."""
    return os.path.realpath(os.fsdecode(os.fspath(path)))


def _ancestors(path: str) -> list[bytes]:
    out = [_fsencode(path)]
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return out
        path = parent
        out.append(_fsencode(path))


def _forget_groups(store, location_id: int) -> None:
    """Duplicate groups that dupes worked out from the location's entries go
    whenever the entries may change (``dupes_queries.forget_groups``)."""
    data_dir = getattr(getattr(store, "library", None), "data_dir", None)
    if data_dir is not None:
        from .kept_groups import KeptGroups

        KeptGroups(data_dir=data_dir).forget(location_id)


def subtree_range(path: str) -> tuple[bytes, bytes]:
    """[lo, hi) of the path BLOBs strictly below directory ``path``."""
    prefix = _fsencode(path.rstrip("/")) + b"/"
    return prefix, prefix[:-1] + b"0"  # '0' is the byte after '/'


# -- the read API ---------------------------------------------------------------
def find_location(store, path: str | os.PathLike) -> LocationRow | None:
    """This host's indexed location whose root is ``path`` or one of its ancestors."""
    real = canonical(path)
    keys = _ancestors(real)
    row = store._sql(f"SELECT {_LOC_COLS} FROM location WHERE host=? AND path IN ({','.join('?' * len(keys))})"
                    " ORDER BY length(path) DESC LIMIT 1", [this_host(), *keys]).fetchone()
    return _location(row) if row else None


def get_location(store, location_id: int) -> LocationRow | None:
    row = store._sql(f"SELECT {_LOC_COLS} FROM location WHERE id=?", (location_id,)).fetchone()
    return _location(row) if row else None


def list_locations(store, host: str | None = None) -> list[LocationRow]:
    """Every host's locations (by host, then path), or only ``host``'s."""
    if host is None:
        return [_location(r) for r in store._sql(f"SELECT {_LOC_COLS} FROM location ORDER BY host, path")]
    return [_location(r) for r in store._sql(f"SELECT {_LOC_COLS} FROM location WHERE host=? ORDER BY path",
                                             (host,))]


def entries_under(store, path: str | os.PathLike, *, kind: str | None = None) -> Iterator[EntryRow]:
    """Stored entries at and below ``path`` (the entry of ``path`` itself first,
    unless ``path`` is a location root, which has no row), in path byte order.

    Nothing if ``path`` is not inside an indexed location. Paths come back in
    the spelling of ``path`` (a symlinked spelling is kept). ``kind`` filters
    ("file" for example). Iterate promptly: the rows are read lazily."""
    given = os.path.abspath(os.fsdecode(os.fspath(path)))
    real = canonical(given)
    loc = find_location(store, real)
    if loc is None:
        return
    lo, hi = subtree_range(real)
    exact = _fsencode(real)
    # one range of the (location_id, path) index, [real, real + '0'), less the siblings in it
    # ('real-1'): with the OR of the path and its subtree SQLite read the whole location
    cond, params = "location_id=? AND path >= ? AND path < ? AND (path = ? OR path >= ?)", [loc.id, exact, hi, exact, lo]
    if kind is not None:
        cond += " AND kind=?"
        params.append(kind)
    cur = store._sql(f"SELECT {_ENTRY_COLS} FROM entry WHERE {cond} ORDER BY path", params)
    swap = given != real
    cut = len(real.rstrip("/"))
    base = given.rstrip("/")
    make = EntryRow._make
    while rows := cur.fetchmany(2000):
        for row in rows:
            p = _fsdecode(row[0])
            if swap:
                p = base + p[cut:]
            yield make((p,) + tuple(row[1:]))


def full_hashes_stored(store, location_id: int) -> bool:
    """True when the last completed index of the location stored the full
    xxh3-128 of every file it could read (``--full-hash``)."""
    row = store._sql("SELECT full_hash FROM location WHERE id=?", (location_id,)).fetchone()
    return bool(row and row[0])


def entry_at(store, path: str | os.PathLike) -> EntryRow | None:
    """The stored entry for exactly ``path``, if any."""
    real = canonical(path)
    loc = find_location(store, real)
    if loc is None:
        return None
    row = store._sql(f"SELECT {_ENTRY_COLS} FROM entry WHERE location_id=? AND path=?",
                    (loc.id, _fsencode(real))).fetchone()
    return EntryRow._make((_fsdecode(row[0]),) + tuple(row[1:])) if row else None


# -- locations --------------------------------------------------------------------
def create_location(store, path: str, *, rules: dict, mode: str, max_depth: int | None, recurse: bool,
                    now: float) -> int:
    return store._sql("INSERT INTO location (host, path, rules, mode, max_depth, recurse, created_at)"
                      " VALUES (?,?,?,?,?,?,?) RETURNING id",
                      (this_host(), _fsencode(path), codec.pack(rules), mode, max_depth, int(recurse), now)).fetchone()[0]


def nested_locations(store, path: str) -> list[LocationRow]:
    """This host's locations strictly inside ``path`` (absorbed when ``path`` is indexed)."""
    lo, hi = subtree_range(path)
    return [_location(r) for r in store._sql(
        f"SELECT {_LOC_COLS} FROM location WHERE host=? AND path >= ? AND path < ?", (this_host(), lo, hi))]


def remove_location(store, location_id: int) -> int:
    """Forget a location and its entries; returns how many entries went."""
    _forget_groups(store, location_id)
    with store._transaction():
        n = store._sql("DELETE FROM entry WHERE location_id=?", (location_id,)).rowcount
        for table in ("index_scan", "index_dirs"):
            store._sql(f"DELETE FROM {table} WHERE job_id IN (SELECT job_id FROM index_run WHERE location_id=?)",
                      (location_id,))
        store._sql("DELETE FROM index_run WHERE location_id=?", (location_id,))
        store._sql("DELETE FROM location WHERE id=?", (location_id,))
    return n


def update_location(store, location_id: int, **fields: Any) -> None:
    for key in ("rules", "last_changes"):
        if key in fields:
            fields[key] = codec.pack(fields[key])
    sets = ", ".join(f"{k}=?" for k in fields)
    store._sql(f"UPDATE location SET {sets} WHERE id=?", [*fields.values(), location_id])


def active_runs(store, location_id: int) -> list[int]:
    """Ids of index jobs that have started on the location and not finished."""
    return [r[0] for r in store._sql(
        "SELECT r.job_id FROM index_run r JOIN job j ON j.id = r.job_id WHERE r.location_id=?"
        " AND j.status IN ('queued', 'running', 'paused', 'interrupted')", (location_id,))]


# -- the indexer's own writes (jobs/index/job.py) -----------------------------------------
# A walked entry as stored: (path, name, kind, size, inode, device, mode, mtime_ns), paths as bytes.
ROW_COLS = "path, name, kind, size, inode, device, mode, mtime_ns"
_ROW_SET = ", ".join(f"{c}=excluded.{c}" for c in ROW_COLS.split(", ")[1:])
# a staged row walked again replaces the one staged (its subtree totals come after it)
_STAGE_AGAIN = f"ON CONFLICT (job_id, path) DO UPDATE SET {_ROW_SET}, subtree_size=NULL, subtree_files=NULL"


def load_run(store, job_id: int) -> tuple[int, str, str, str | None, dict] | None:
    """(location_id, root, phase, cursor, state) of a started run, or None."""
    row = store._sql("SELECT location_id, root, phase, cursor, state FROM index_run WHERE job_id=?",
                    (job_id,)).fetchone()
    if row is None:
        return None
    loc, root, phase, cursor, state = row
    return loc, _fsdecode(root), phase, None if cursor is None else _fsdecode(cursor), codec.unpack(state)


def start_run(store, job_id: int, location_id: int, root: str, state: dict, now: float) -> None:
    store._sql("INSERT INTO index_run (job_id, location_id, root, phase, cursor, state, started_at)"
               " VALUES (?,?,?,?,?,?,?) ON CONFLICT (job_id) DO UPDATE SET location_id=excluded.location_id,"
               " root=excluded.root, phase=excluded.phase, cursor=excluded.cursor, state=excluded.state,"
               " started_at=excluded.started_at, identified=0",
               (job_id, location_id, _fsencode(root), "discovery", None, codec.pack(state), now))


def save_run(store, job_id: int, phase: str, cursor: str | bytes | None, state: dict | bytes) -> None:
    """Record progress; call inside the transaction that wrote what it describes.
    ``state`` may come packed already (``codec.pack``: the walk packs it in its process)."""
    if isinstance(cursor, str):
        cursor = _fsencode(cursor)
    store._sql("UPDATE index_run SET phase=?, cursor=?, state=? WHERE job_id=?",
              (phase, cursor, state if isinstance(state, bytes) else codec.pack(state), job_id))


def drop_run(store, job_id: int) -> None:
    row = store._sql("SELECT location_id FROM index_run WHERE job_id=?", (job_id,)).fetchone()
    if row is not None:  # the run may have changed entries, whether it ends or is given up
        _forget_groups(store, row[0])
    store._sql("DELETE FROM index_scan WHERE job_id=?", (job_id,))
    store._sql("DELETE FROM index_dirs WHERE job_id=?", (job_id,))
    store._sql("DELETE FROM index_run WHERE job_id=?", (job_id,))


def drop_stale_runs(store) -> int:
    """Forget runs whose job finished (failed, cancelled) or was pruned."""
    stale = [r[0] for r in store._sql(
        "SELECT r.job_id FROM index_run r LEFT JOIN job j ON j.id = r.job_id"
        " WHERE j.id IS NULL OR j.status IN ('completed', 'completed-with-errors', 'failed', 'cancelled')")]
    if stale:
        with store._transaction():
            for job_id in stale:
                drop_run(store, job_id)
    return len(stale)


def has_entries(store, location_id: int) -> bool:
    return store._sql("SELECT 1 FROM entry WHERE location_id=? LIMIT 1", (location_id,)).fetchone() is not None


# Entries go in as the walker's flat values (8 per entry, in ROW_COLS order), many
# rows per INSERT statement: binding 128 rows at once costs a third less than
# executemany row by row (measured on 200,000 entries).
_ROWS_PER_STATEMENT = 128


def _insert_values(store, head: str, one: str, tail: str, values: list) -> None:
    """``head VALUES one, one, ... tail`` over ``values``, 8 per row."""
    step = 8 * _ROWS_PER_STATEMENT
    full = len(values) - len(values) % step
    if full:
        many(store, f"{head} VALUES {','.join([one] * _ROWS_PER_STATEMENT)} {tail}",
             [values[i:i + step] for i in range(0, full, step)])
    if full < len(values):
        store._sql(f"{head} VALUES {','.join([one] * ((len(values) - full) // 8))} {tail}", values[full:])


def bulk_connection(store) -> None:
    """Set up the connection of the indexer's writer process: no foreign-key
    lookup of the location per inserted row (a fifth of the insert's cost);
    ``write_entries`` checks once per batch that the location is there. (PostgreSQL checks
    each row's reference: only a superuser may turn that off.)"""
    if dialect(store).name == "sqlite":
        store._sql("PRAGMA foreign_keys=OFF")


def write_entries(store, location_id: int, values: list) -> None:
    """Insert walked entries straight into ``entry`` (a location's first run);
    ``values`` is flat, 8 per entry in ``ROW_COLS`` order. Call in a transaction."""
    if store._sql("SELECT 1 FROM location WHERE id=?", (location_id,)).fetchone() is None:
        raise NotFound("the location was removed while it was being indexed")
    _insert_values(store, f"INSERT INTO entry (location_id, {ROW_COLS})", f"({location_id},?,?,?,?,?,?,?,?)",
                   f"ON CONFLICT(location_id, path) DO UPDATE SET {_ROW_SET}", values)


def stage_entries(store, job_id: int, rows: list[tuple]) -> None:
    """Keep walked rows in ``index_scan`` for the diff of a re-index."""
    many(store, f"INSERT INTO index_scan (job_id, {ROW_COLS}) VALUES ({int(job_id)},?,?,?,?,?,?,?,?) {_STAGE_AGAIN}",
         rows)


def stage_values(store, job_id: int, values: list) -> None:
    """``stage_entries`` of flat values (8 per entry, as for ``write_entries``)."""
    _insert_values(store, f"INSERT INTO index_scan (job_id, {ROW_COLS})", f"({int(job_id)},?,?,?,?,?,?,?,?)",
                   _STAGE_AGAIN, values)


def write_totals(store, location_id: int, totals: list[tuple[int, int, int, bytes]]) -> None:
    """(subtree_size, subtree_files, digest, path) of finished directories, into ``entry``."""
    many(store, f"UPDATE entry SET subtree_size=?, subtree_files=?, digest=? WHERE location_id={int(location_id)}"
                " AND path=?", totals)


def stage_totals(store, job_id: int, totals: list[tuple[int, int, int, bytes]]) -> None:
    """Subtree totals of staged directories (their digests are not kept: see
    ``invalidate_digests``)."""
    many(store, f"UPDATE index_scan SET subtree_size=?, subtree_files=? WHERE job_id={int(job_id)} AND path=?",
         [(t[0], t[1], t[3]) for t in totals])


def absorb_locations(store, into_id: int, path: str) -> list[str]:
    """Move the entries of locations nested in ``path`` into location ``into_id``
    (their content ids are kept) and forget those locations."""
    nested = nested_locations(store, path)
    for loc in nested:
        _forget_groups(store, loc.id)
        store._sql("UPDATE entry SET location_id=? WHERE location_id=?", (into_id, loc.id))
        store._sql("DELETE FROM location WHERE id=?", (loc.id,))
    return [loc.path for loc in nested]


def apply_dir_changes(store, job_id: int, location_id: int, root: str) -> None:
    """New digests and subtree totals found by a verifying re-index (``index_dirs``)."""
    store._sql(f"UPDATE entry SET digest = CASE WHEN d.changed = 1 THEN d.digest ELSE entry.digest END,"
              " subtree_size = coalesce(d.subtree_size, entry.subtree_size),"
              " subtree_files = coalesce(d.subtree_files, entry.subtree_files)"
              f" FROM (SELECT * FROM index_dirs WHERE job_id=? {NO_FLATTEN}) AS d"  # the few rows drive the join
              " WHERE entry.location_id=? AND entry.path = d.path",
              (job_id, location_id))
    row = store._sql("SELECT digest FROM index_dirs WHERE job_id=? AND path=? AND changed=1",
                    (job_id, _fsencode(root))).fetchone()
    if row is not None:
        store._sql("UPDATE location SET digest=? WHERE id=?", (row[0], location_id))


def invalidate_digests(store, location_id: int, root: str, target: str) -> None:
    """After a refresh of ``target`` only, the digests of the directories at and
    below it and of its parent no longer describe what is stored: forget them,
    so the next full re-index lists those directories again."""
    lo, hi = subtree_range(target)
    parent = os.path.dirname(target)
    store._sql("UPDATE entry SET digest=NULL WHERE location_id=? AND kind='dir'"
              " AND (path IN (?, ?) OR (path >= ? AND path < ?))",
              (location_id, _fsencode(target), _fsencode(parent), lo, hi))
    if target == root or parent == root:
        store._sql("UPDATE location SET digest=NULL WHERE id=?", (location_id,))
