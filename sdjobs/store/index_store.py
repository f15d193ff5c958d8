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
"""

from __future__ import annotations

import os
from typing import Any, Iterator, NamedTuple

from ..core import codec

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


_LOC_COLS = ("id, path, rules, mode, full_hash, max_depth, recurse, created_at, indexed_at, entries,"
             " total_size, last_changes, last_job_id")


def _location(row) -> LocationRow:
    (id_, path, rules, mode, full, depth, recurse, created, indexed, entries, total, changes, job) = row
    return LocationRow(id_, _fsdecode(path), codec.unpack(rules) or {}, mode, bool(full), depth, bool(recurse),
                       created, indexed, entries, total, codec.unpack(changes) or {}, job)


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


def subtree_range(path: str) -> tuple[bytes, bytes]:
    """[lo, hi) of the path BLOBs strictly below directory ``path``."""
    prefix = _fsencode(path.rstrip("/")) + b"/"
    return prefix, prefix[:-1] + b"0"  # '0' is the byte after '/'


# -- the read API ---------------------------------------------------------------
def find_location(store, path: str | os.PathLike) -> LocationRow | None:
    """The indexed location whose root is ``path`` or one of its ancestors."""
    real = canonical(path)
    keys = _ancestors(real)
    row = store.sql(f"SELECT {_LOC_COLS} FROM location WHERE path IN ({','.join('?' * len(keys))})"
                    " ORDER BY length(path) DESC LIMIT 1", keys).fetchone()
    return _location(row) if row else None


def get_location(store, location_id: int) -> LocationRow | None:
    row = store.sql(f"SELECT {_LOC_COLS} FROM location WHERE id=?", (location_id,)).fetchone()
    return _location(row) if row else None


def list_locations(store) -> list[LocationRow]:
    return [_location(r) for r in store.sql(f"SELECT {_LOC_COLS} FROM location ORDER BY path")]


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
    cond, params = "location_id=? AND ((path >= ? AND path < ?) OR path = ?)", [loc.id, lo, hi, _fsencode(real)]
    if kind is not None:
        cond += " AND kind=?"
        params.append(kind)
    cur = store.sql(f"SELECT {_ENTRY_COLS} FROM entry WHERE {cond} ORDER BY path", params)
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
    row = store.sql("SELECT full_hash FROM location WHERE id=?", (location_id,)).fetchone()
    return bool(row and row[0])


def entry_at(store, path: str | os.PathLike) -> EntryRow | None:
    """The stored entry for exactly ``path``, if any."""
    real = canonical(path)
    loc = find_location(store, real)
    if loc is None:
        return None
    row = store.sql(f"SELECT {_ENTRY_COLS} FROM entry WHERE location_id=? AND path=?",
                    (loc.id, _fsencode(real))).fetchone()
    return EntryRow._make((_fsdecode(row[0]),) + tuple(row[1:])) if row else None


# -- locations --------------------------------------------------------------------
def create_location(store, path: str, *, rules: dict, mode: str, max_depth: int | None, recurse: bool,
                    now: float) -> int:
    cur = store.sql("INSERT INTO location (path, rules, mode, max_depth, recurse, created_at)"
                    " VALUES (?,?,?,?,?,?)",
                    (_fsencode(path), codec.pack(rules), mode, max_depth, int(recurse), now))
    return cur.lastrowid


def nested_locations(store, path: str) -> list[LocationRow]:
    """Locations strictly inside ``path`` (absorbed when ``path`` is indexed)."""
    lo, hi = subtree_range(path)
    return [_location(r) for r in store.sql(
        f"SELECT {_LOC_COLS} FROM location WHERE path >= ? AND path < ?", (lo, hi))]


def remove_location(store, location_id: int) -> int:
    """Forget a location and its entries; returns how many entries went."""
    with store.transaction():
        n = store.sql("DELETE FROM entry WHERE location_id=?", (location_id,)).rowcount
        store.sql("DELETE FROM index_scan WHERE job_id IN (SELECT job_id FROM index_run WHERE location_id=?)",
                  (location_id,))
        store.sql("DELETE FROM index_run WHERE location_id=?", (location_id,))
        store.sql("DELETE FROM location WHERE id=?", (location_id,))
    return n


def update_location(store, location_id: int, **fields: Any) -> None:
    for key in ("rules", "last_changes"):
        if key in fields:
            fields[key] = codec.pack(fields[key])
    sets = ", ".join(f"{k}=?" for k in fields)
    store.sql(f"UPDATE location SET {sets} WHERE id=?", [*fields.values(), location_id])
