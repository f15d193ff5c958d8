"""The index kept true by sdjobs' own file operations: verbs for copy, move and delete.

A job that removes files (delete, trash, the source side of a move) calls ``forget_gone``
with the paths it acted on; one that writes files into an indexed location (copy, the
destination side of a move) calls ``record_written`` with rows it made from ``lstat``.
Both go by what is on disk now, never by what the job meant to do, so calling them
again (a resumed job) changes nothing more, and a path a job failed to remove stays.

What a re-index would otherwise have to find is kept coherent: the location's totals, the
subtree totals of the directories above, the digests of the directories whose children
changed (forgotten: NULL means "look again"), the content-identity flags of the location
when a row comes without what the location keeps, the duplicate groups dupes kept for the
location, and the thumbnail sources of removed or moved files (``thumb_source``).

Paths cross this module as ``str`` (surrogateescape) in their real spelling
(``canonical_gone`` for a path that no longer exists); they are stored as BLOBs.
"""

from __future__ import annotations

import os
import stat
from typing import NamedTuple
from collections.abc import Iterable

from . import index_store as ixs
from .data_sql import many

_fsencode, _fsdecode = os.fsencode, os.fsdecode
CHUNK = 500  # paths per IN (...) list


class Written(NamedTuple):
    """A file a job wrote (or moved) in its real spelling, from ``lstat``; ``carried``
    is what the index knew of its source's content (cas_id, full_hash, kind_class, width,
    height, taken_at), or None."""

    path: str
    kind: str
    size: int
    inode: int
    device: int
    mode: int
    mtime_ns: int
    carried: tuple | None = None


def kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def canonical_gone(path: str) -> str:
    """The real spelling of a path that may no longer exist: its directory resolved,
    its last component kept (a removed symlink is itself, not what it pointed to)."""
    path = os.path.abspath(path)
    head, tail = os.path.split(path)
    return os.path.join(os.path.realpath(head), tail) if tail else os.path.realpath(path)


def anything_indexed(store) -> bool:
    """Whether any location or thumbnail source is recorded (the cheap test before any work)."""
    return (store._sql("SELECT 1 FROM location LIMIT 1").fetchone() is not None
            or store._sql("SELECT 1 FROM thumb_source LIMIT 1").fetchone() is not None)


def location_of(store, path: str) -> ixs.LocationRow | None:
    """The location containing ``path`` (in its real spelling, ``canonical_gone``): looked
    up by its directory, so a symlink is where it is, not where it points."""
    if os.path.isdir(path) and not os.path.islink(path):
        return ixs.find_location(store, path)
    return ixs.find_location(store, os.path.dirname(path))


def has_entries_at(store, location_id: int, path: str) -> bool:
    """Whether the index holds anything at or below ``path`` (no: what is written there is new)."""
    scope, params = _scope(location_id, path)
    return store._sql(f"SELECT 1 FROM entry WHERE {scope} LIMIT 1", params).fetchone() is not None


def entries_at(store, location_id: int, paths: list[str]) -> dict[str, ixs.EntryRow]:
    """The stored entries at exactly these paths, by path."""
    out = {}
    for i in range(0, len(paths), CHUNK):
        part = [_fsencode(p) for p in paths[i:i + CHUNK]]
        for row in store._sql(f"SELECT {ixs._ENTRY_COLS} FROM entry WHERE location_id=? AND path IN"
                             f" ({','.join('?' * len(part))})", [location_id, *part]):
            e = ixs.EntryRow._make((_fsdecode(row[0]),) + tuple(row[1:]))
            out[e.path] = e
    return out


def thumb_sources_at(store, paths: list[str]) -> dict[str, tuple]:
    """(cas_id, mtime_ns, size, status, error) of the thumbnail sources at these paths."""
    out = {}
    for i in range(0, len(paths), CHUNK):
        part = [_fsencode(p) for p in paths[i:i + CHUNK]]
        for row in store._sql("SELECT path, cas_id, mtime_ns, size, status, error FROM thumb_source"
                             f" WHERE path IN ({','.join('?' * len(part))})", part):
            out[_fsdecode(row[0])] = tuple(row[1:])
    return out


# -- removals -----------------------------------------------------------------------------
def forget_gone(store, paths: Iterable[str]) -> int:
    """Forget what the index holds at and below each path that is gone from disk (a path
    that is still there keeps its entries, but those below it that are gone go). Locations
    at or inside a path that is gone are forgotten whole. One transaction for them all;
    returns the entries forgotten."""
    batch = _Forget(store)
    with store._transaction():
        for path in paths:
            batch.add(canonical_gone(path))
        batch.settle()
    for loc_id in batch.changed:  # files beside the library: once the rows are gone for good
        ixs._forget_groups(store, loc_id)
    return batch.forgotten


class _Forget:
    """What a batch of removals does to the index, totals and digests settled once per location."""

    def __init__(self, store) -> None:
        self.store = store
        self.forgotten = 0
        self.thumbs = store._sql("SELECT 1 FROM thumb_source LIMIT 1").fetchone() is not None
        self.locs: dict[str, ixs.LocationRow | None] = {}   # by directory: the location it is in
        self.changes: dict[int, list] = {}                   # location id -> [loc, deltas, entries, bytes, parents]
        self.changed: set[int] = set()

    def _location_of(self, path: str) -> ixs.LocationRow | None:
        d = os.path.dirname(path)
        if d not in self.locs:
            self.locs[d] = ixs.find_location(self.store, d)
        return self.locs[d]

    def add(self, path: str) -> None:
        store = self.store
        gone = not os.path.lexists(path)
        if gone and self.thumbs:
            _forget_thumb_sources(store, path)
        loc = self._location_of(path) if gone or not os.path.isdir(path) else ixs.find_location(store, path)
        if gone:
            inside = ixs.nested_locations(store, path)
            exact = store._sql(f"SELECT {ixs._LOC_COLS} FROM location WHERE host=? AND path=?",
                               (ixs.this_host(), _fsencode(path))).fetchone()
            for gone_loc in inside + ([ixs._location(exact)] if exact else []):
                self.forgotten += ixs.remove_location(store, gone_loc.id)
                self.changed.add(gone_loc.id)
                self.changes.pop(gone_loc.id, None)
                if loc is not None and loc.id == gone_loc.id:
                    loc = None
        if loc is None or not (path.startswith(loc.path.rstrip("/") + "/") or (not gone and path == loc.path)):
            return
        if gone:
            self._gone_subtree(loc, path)
        else:
            self._gone_below(loc, path)

    def _acc(self, loc: ixs.LocationRow) -> list:
        self.changed.add(loc.id)
        return self.changes.setdefault(loc.id, [loc, {}, 0, 0, set()])

    def _gone_subtree(self, loc: ixs.LocationRow, path: str) -> None:
        scope, params = _scope(loc.id, path)
        size, files, n = map(int, self.store._sql(  # (PostgreSQL's sum is a numeric: a Decimal)
            "SELECT coalesce(sum(CASE WHEN kind='file' THEN size END), 0), count(CASE WHEN kind='file' THEN 1 END),"
            f" count(*) FROM entry WHERE {scope}", params).fetchone())
        if not n:
            return
        self.store._sql(f"DELETE FROM entry WHERE {scope}", params)
        acc = self._acc(loc)
        acc[1][path] = (-size, -files)
        acc[2] -= n
        acc[3] -= size
        acc[4].add(os.path.dirname(path))
        self.forgotten += n

    def _gone_below(self, loc: ixs.LocationRow, path: str) -> None:
        """Still there (a tree partly removed, a file left alone): only what is gone below it."""
        scope, params = _scope(loc.id, path)
        doomed = []
        cur = self.store._sql(f"SELECT id, path, kind, size FROM entry WHERE {scope} AND path != ? ORDER BY path",
                             params + [_fsencode(path)])
        while rows := cur.fetchmany(2000):
            doomed += [(r[0], _fsdecode(r[1]), r[2], r[3]) for r in rows if not os.path.lexists(_fsdecode(r[1]))]
        if not doomed:
            return
        for i in range(0, len(doomed), CHUNK):
            part = [d[0] for d in doomed[i:i + CHUNK]]
            self.store._sql(f"DELETE FROM entry WHERE id IN ({','.join('?' * len(part))})", part)
        acc = self._acc(loc)
        for _id, p, kind, size in doomed:
            if kind == "file":
                acc[1][p] = (-size, -1)
                acc[3] -= size
            acc[4].add(os.path.dirname(p))
            if self.thumbs:
                _forget_thumb_sources(self.store, p)
        acc[2] -= len(doomed)
        self.forgotten += len(doomed)

    def settle(self) -> None:
        for loc, deltas, dentries, dbytes, parents in self.changes.values():
            _after_change(self.store, loc, deltas, dentries, dbytes, parents)


def _scope(location_id: int, path: str) -> tuple[str, list]:
    """``path`` and all below it, as one range of the (location_id, path) index: [path,
    path + '0') holds them and a few siblings ('path-1', 'path.bak'), which the last test
    leaves out. (An OR of the path and its subtree made SQLite scan the whole location.)"""
    exact = _fsencode(path)
    lo, hi = ixs.subtree_range(path)
    return "location_id=? AND path >= ? AND path < ? AND (path = ? OR path >= ?)", [location_id, exact, hi, exact, lo]


def _forget_thumb_sources(store, path: str) -> None:
    exact = _fsencode(path)
    lo, hi = ixs.subtree_range(path)
    store._sql("DELETE FROM thumb_source WHERE path = ? OR (path >= ? AND path < ?)", (exact, lo, hi))


def move_thumb_sources(store, src: str, dst: str) -> int:
    """A moved file or tree keeps its thumbnails: the sources at and below ``src`` are
    renamed to ``dst`` (byte-exact: the new paths are made in bytes); a source recorded
    at a new path already gives way, as the file that was there did."""
    exact, new = _fsencode(src), _fsencode(dst)
    lo, hi = ixs.subtree_range(src)
    with store._transaction():
        moving = [r[0] for r in store._sql("SELECT path FROM thumb_source WHERE path = ? OR (path >= ? AND path < ?)",
                                           (exact, lo, hi))]
        renamed = [(new + bytes(old)[len(exact):], old) for old in moving if new != exact]
        mine = set(moving)
        taken = [n for n, _o in renamed if n not in mine]
        for i in range(0, len(taken), CHUNK):
            part = taken[i:i + CHUNK]
            store._sql(f"DELETE FROM thumb_source WHERE path IN ({','.join('?' * len(part))})", part)
        many(store, "UPDATE thumb_source SET path=? WHERE path=?", renamed)
    return len(moving)


# -- writes ---------------------------------------------------------------------------------
def record_written(store, loc: ixs.LocationRow, rows: list[Written], *, new_tree: bool = False) -> int:
    """Add (or update) the entries of files a job wrote inside ``loc``, in one transaction;
    ``new_tree``: nothing was indexed where they are (not looked up). Returns how many
    entries are new."""
    if not rows:
        return 0
    with store._transaction():
        old = {} if new_tree else entries_at(store, loc.id, [r.path for r in rows])
        # what the index already has exactly as it is stays untouched (its directory's digest too)
        rows = [r for r in rows if (o := old.get(r.path)) is None or
                (o.kind, o.size, o.mtime_ns, o.inode, o.device, o.mode) != (r.kind, r.size, r.mtime_ns, r.inode,
                                                                           r.device, r.mode)]
        if not rows:
            return 0
        deltas: dict[str, tuple[int, int]] = {}
        new = dbytes = 0
        lacking = False
        values = []
        for r in rows:
            o = old.get(r.path)
            carried = r.carried
            if carried is None and o is not None and (o.kind, o.size, o.mtime_ns, o.inode, o.device) == \
                    (r.kind, r.size, r.mtime_ns, r.inode, r.device):
                carried = (o.cas_id, o.full_hash, o.kind_class, o.width, o.height, o.taken_at)  # untouched
            carried = carried or (None,) * 6
            values.append((loc.id, _fsencode(r.path), _fsencode(os.path.basename(r.path)), r.kind, r.size, r.inode,
                           r.device, r.mode, r.mtime_ns, *carried, 0 if r.kind == "dir" else None,
                           0 if r.kind == "dir" else None))
            before = (o.size if o is not None and o.kind == "file" else 0, 1 if o is not None and o.kind == "file" else 0)
            after = (r.size if r.kind == "file" else 0, 1 if r.kind == "file" else 0)
            if after != before:
                deltas[r.path] = (after[0] - before[0], after[1] - before[1])
            dbytes += after[0] - before[0]
            new += o is None
            if r.kind == "file" and r.size and (carried[0] is None or (loc.full_hash and carried[1] is None)
                                               or (loc.mode == "deep" and carried[2] is None)):
                lacking = True
        many(
            store, "INSERT INTO entry (location_id, path, name, kind, size, inode, device, mode, mtime_ns, cas_id,"
            " full_hash, kind_class, width, height, taken_at, subtree_size, subtree_files)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(location_id, path) DO UPDATE SET"
            " kind=excluded.kind, size=excluded.size, inode=excluded.inode, device=excluded.device,"
            " mode=excluded.mode, mtime_ns=excluded.mtime_ns, cas_id=excluded.cas_id, full_hash=excluded.full_hash,"
            " kind_class=excluded.kind_class, width=excluded.width, height=excluded.height,"
            " taken_at=excluded.taken_at, digest=NULL", values)
        parents = {os.path.dirname(r.path) for r in rows}
        _after_change(store, loc, deltas, new, dbytes, parents)
        if lacking:  # the next index run reads the files that came without a content identity
            ixs.update_location(store, loc.id, identified_want=0, full_hash=0)
    ixs._forget_groups(store, loc.id)
    return new


def _after_change(store, loc: ixs.LocationRow, deltas: dict[str, tuple[int, int]], dentries: int, dbytes: int,
                  parents: set[str]) -> None:
    """Totals of the location and of the directories above the changed paths; digests of
    the directories whose children changed are forgotten (NULL: a re-index looks again)."""
    shift_ancestors(store, loc.id, loc.path, deltas)
    store._sql("UPDATE location SET entries=CASE WHEN entries + ? > 0 THEN entries + ? ELSE 0 END,"
               " total_size=CASE WHEN total_size + ? > 0 THEN total_size + ? ELSE 0 END WHERE id=?",
               (dentries, dentries, dbytes, dbytes, loc.id))
    inside = [p for p in parents if p != loc.path]
    for i in range(0, len(inside), CHUNK):
        part = [_fsencode(p) for p in inside[i:i + CHUNK]]
        store._sql(f"UPDATE entry SET digest=NULL WHERE location_id=? AND path IN ({','.join('?' * len(part))})",
                  [loc.id, *part])
    if loc.path in parents:
        store._sql("UPDATE location SET digest=NULL WHERE id=?", (loc.id,))


def shift_ancestors(store, location_id: int, root: str, deltas: dict[str, tuple[int, int]]) -> None:
    """Add each changed path's (bytes, files) to every directory between the location root
    and it (a re-index of targets does the same: jobs/index/job.py)."""
    per_dir: dict[str, list[int]] = {}
    for target, (dsize, dfiles) in deltas.items():
        if not (dsize or dfiles):
            continue
        d = os.path.dirname(target)
        while len(d) > len(root) and d.startswith(root):
            acc = per_dir.setdefault(d, [0, 0])
            acc[0] += dsize
            acc[1] += dfiles
            d = os.path.dirname(d)
    many(
        store, "UPDATE entry SET subtree_size=coalesce(subtree_size, 0)+?, subtree_files=coalesce(subtree_files, 0)+?"
        " WHERE location_id=? AND path=?",
        [(s, f, location_id, _fsencode(d)) for d, (s, f) in per_dir.items()])
