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
from typing import Iterable, NamedTuple

from . import index_store as ixs

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
    return (store.sql("SELECT 1 FROM location LIMIT 1").fetchone() is not None
            or store.sql("SELECT 1 FROM thumb_source LIMIT 1").fetchone() is not None)


def location_of(store, path: str) -> ixs.LocationRow | None:
    """The location containing ``path`` (in its real spelling, ``canonical_gone``): looked
    up by its directory, so a symlink is where it is, not where it points."""
    if os.path.isdir(path) and not os.path.islink(path):
        return ixs.find_location(store, path)
    return ixs.find_location(store, os.path.dirname(path))


def locations_touching(store, path: str) -> list[ixs.LocationRow]:
    """The location that contains ``path`` and those inside it."""
    loc = location_of(store, path)
    if loc is None and not os.path.lexists(path):  # a location's root that is gone
        loc = ixs.find_location(store, path)
    out = [loc] if loc is not None else []
    return out + [n for n in ixs.nested_locations(store, path) if not out or n.id != out[0].id]


def has_entries_at(store, location_id: int, path: str) -> bool:
    """Whether the index holds anything at or below ``path`` (no: what is written there is new)."""
    lo, hi = ixs.subtree_range(path)
    return store.sql("SELECT 1 FROM entry WHERE location_id=? AND (path = ? OR (path >= ? AND path < ?)) LIMIT 1",
                     (location_id, _fsencode(path), lo, hi)).fetchone() is not None


def entries_at(store, location_id: int, paths: list[str]) -> dict[str, ixs.EntryRow]:
    """The stored entries at exactly these paths, by path."""
    out = {}
    for i in range(0, len(paths), CHUNK):
        part = [_fsencode(p) for p in paths[i:i + CHUNK]]
        for row in store.sql(f"SELECT {ixs._ENTRY_COLS} FROM entry WHERE location_id=? AND path IN"
                             f" ({','.join('?' * len(part))})", [location_id, *part]):
            e = ixs.EntryRow._make((_fsdecode(row[0]),) + tuple(row[1:]))
            out[e.path] = e
    return out


def thumb_sources_at(store, paths: list[str]) -> dict[str, tuple]:
    """(cas_id, mtime_ns, size, status, error) of the thumbnail sources at these paths."""
    out = {}
    for i in range(0, len(paths), CHUNK):
        part = [_fsencode(p) for p in paths[i:i + CHUNK]]
        for row in store.sql("SELECT path, cas_id, mtime_ns, size, status, error FROM thumb_source"
                             f" WHERE path IN ({','.join('?' * len(part))})", part):
            out[_fsdecode(row[0])] = tuple(row[1:])
    return out


# -- removals -----------------------------------------------------------------------------
def forget_gone(store, paths: Iterable[str]) -> int:
    """Forget what the index holds at and below each path that is gone from disk (a path
    that is still there keeps its entries, but those below it that are gone go). Locations
    at or inside a path that is gone are forgotten whole. Returns the entries forgotten."""
    forgotten = 0
    for path in paths:
        path = canonical_gone(path)
        gone = not os.path.lexists(path)
        _forget_thumb_sources(store, path, gone)
        for loc in locations_touching(store, path):
            if gone and (loc.path == path or loc.path.startswith(path.rstrip("/") + "/")):
                forgotten += ixs.remove_location(store, loc.id)
            elif loc.path == path or path.startswith(loc.path.rstrip("/") + "/"):
                forgotten += _forget_in(store, loc, path, gone)
    return forgotten


def _forget_in(store, loc: ixs.LocationRow, path: str, gone: bool) -> int:
    exact = _fsencode(path)
    lo, hi = ixs.subtree_range(path)
    scope = "location_id=? AND (path = ? OR (path >= ? AND path < ?))"
    params = [loc.id, exact, lo, hi]
    if gone:  # the whole subtree, one delta
        with store.transaction():
            size, files, n = store.sql(
                "SELECT coalesce(sum(CASE WHEN kind='file' THEN size END), 0), count(CASE WHEN kind='file' THEN 1 END),"
                f" count(*) FROM entry WHERE {scope}", params).fetchone()
            if not n:
                return 0
            store.sql(f"DELETE FROM entry WHERE {scope}", params)
            _after_change(store, loc, {path: (-size, -files)}, -n, -size, {os.path.dirname(path)})
        ixs._forget_groups(store, loc.id)
        return n
    # still there (a tree partly removed, a file left alone): only what is gone below it
    doomed = []
    cur = store.sql(f"SELECT id, path, kind, size FROM entry WHERE {scope} AND path != ? ORDER BY path",
                    params + [exact])
    while rows := cur.fetchmany(2000):
        doomed += [(r[0], _fsdecode(r[1]), r[2], r[3]) for r in rows if not os.path.lexists(_fsdecode(r[1]))]
    if not doomed:
        return 0
    with store.transaction():
        for i in range(0, len(doomed), CHUNK):
            part = [d[0] for d in doomed[i:i + CHUNK]]
            store.sql(f"DELETE FROM entry WHERE id IN ({','.join('?' * len(part))})", part)
        deltas = {p: (-size, -1) for _id, p, kind, size in doomed if kind == "file"}
        nbytes = sum(-d[0] for d in deltas.values())
        _after_change(store, loc, deltas, -len(doomed), -nbytes, {os.path.dirname(d[1]) for d in doomed})
    ixs._forget_groups(store, loc.id)
    for _id, p, _kind, _size in doomed:
        _forget_thumb_sources(store, p, True)
    return len(doomed)


def _forget_thumb_sources(store, path: str, gone: bool) -> None:
    if not gone:
        return
    exact = _fsencode(path)
    lo, hi = ixs.subtree_range(path)
    store.sql("DELETE FROM thumb_source WHERE path = ? OR (path >= ? AND path < ?)", (exact, lo, hi))


# -- writes ---------------------------------------------------------------------------------
def record_written(store, loc: ixs.LocationRow, rows: list[Written], *, move_from: dict[str, str] | None = None,
                   new_tree: bool = False) -> int:
    """Add (or update) the entries of files a job wrote inside ``loc``, in one transaction.
    ``move_from``: destination path -> source path of files moved, whose thumbnail
    sources move with them; ``new_tree``: nothing was indexed where they are (not looked up).
    Returns how many entries are new."""
    if not rows:
        return 0
    with store.transaction():
        old = {} if new_tree else entries_at(store, loc.id, [r.path for r in rows])
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
        store.db.cursor().executemany(
            "INSERT INTO entry (location_id, path, name, kind, size, inode, device, mode, mtime_ns, cas_id,"
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
        for dst, src in (move_from or {}).items():
            store.sql("UPDATE OR REPLACE thumb_source SET path=? WHERE path=?", (_fsencode(dst), _fsencode(src)))
    ixs._forget_groups(store, loc.id)
    return new


def _after_change(store, loc: ixs.LocationRow, deltas: dict[str, tuple[int, int]], dentries: int, dbytes: int,
                  parents: set[str]) -> None:
    """Totals of the location and of the directories above the changed paths; digests of
    the directories whose children changed are forgotten (NULL: a re-index looks again)."""
    _shift_ancestors(store, loc.id, loc.path, deltas)
    store.sql("UPDATE location SET entries=max(entries + ?, 0), total_size=max(total_size + ?, 0) WHERE id=?",
              (dentries, dbytes, loc.id))
    inside = [p for p in parents if p != loc.path]
    for i in range(0, len(inside), CHUNK):
        part = [_fsencode(p) for p in inside[i:i + CHUNK]]
        store.sql(f"UPDATE entry SET digest=NULL WHERE location_id=? AND path IN ({','.join('?' * len(part))})",
                  [loc.id, *part])
    if loc.path in parents:
        store.sql("UPDATE location SET digest=NULL WHERE id=?", (loc.id,))


def _shift_ancestors(store, location_id: int, root: str, deltas: dict[str, tuple[int, int]]) -> None:
    """Add each changed path's (bytes, files) to every directory between the location root
    and it (as ``index_diff.shift_ancestors`` does for a re-index of targets)."""
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
    store.db.cursor().executemany(
        "UPDATE entry SET subtree_size=coalesce(subtree_size, 0)+?, subtree_files=coalesce(subtree_files, 0)+?"
        " WHERE location_id=? AND path=?",
        [(s, f, location_id, _fsencode(d)) for d, (s, f) in per_dir.items()])
