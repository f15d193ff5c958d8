"""The SQL steps of a re-index (the job's side is ``jobs/index/diff.py``).

What the walk saw sits in ``index_scan`` (one row per entry, for this job);
what the library knew sits in ``entry``. Each step is idempotent and small
enough to commit on its own, so a run killed between two steps redoes at
most one of them:

- ``apply_moves``: an entry whose path is gone while a new path shows the
  same (device, inode, kind) moved -- for anything but a directory also the
  same size and mtime, because a freed inode number is soon reused by a new
  file; its row takes the new path and keeps its content identity.
- ``apply_chunk``: for a range of scanned paths, update what changed (content
  identity cleared when size, mtime, inode or kind changed) and insert what
  is new.
- ``delete_gone``: entries in scope that the walk did not see, in path
  order from a cursor.

This is a bulk path of the index: hand-written SQL (UPDATE ... FROM, temp
tables, RETURNING) kept because it is measurably faster than row-at-a-time
verbs; it is reached only through the data plane (``store/data_plane.py``).

A *target* is a path inside the location whose subtree was walked (the
location root for a full re-index); its scope is the target itself and
everything below it. ``keep`` lists directories that could not be read: what
is stored below them stays as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from .data_sql import NO_FLATTEN, dialect, many
from .index_store import subtree_range

_fsencode = os.fsencode

_CONTENT_SAME = ("entry.size = s.size AND entry.mtime_ns = s.mtime_ns AND entry.inode = s.inode"
                 " AND entry.device = s.device AND entry.kind = s.kind")
_CHANGED = ("(entry.kind <> s.kind OR entry.size <> s.size OR entry.inode <> s.inode OR entry.device <> s.device"
            " OR entry.mode <> s.mode OR entry.mtime_ns <> s.mtime_ns)")
_KEEP_IF_SAME = ", ".join(f"{c} = CASE WHEN {_CONTENT_SAME} THEN entry.{c} END"
                          for c in ("cas_id", "full_hash", "kind_class", "width", "height", "taken_at"))


def scope(alias: str, target: str) -> tuple[str, list]:
    lo, hi = subtree_range(target)
    return f"({alias}.path = ? OR ({alias}.path >= ? AND {alias}.path < ?))", [_fsencode(target), lo, hi]


def _kept(path: bytes, keep: Sequence[bytes]) -> bool:
    return any(path == k or path.startswith(k + b"/") for k in keep)


def totals_under(store, location_id: int, target: str) -> tuple[int, int, int]:
    """(bytes in files, files, entries) at and below ``target``."""
    cond, params = scope("e", target)
    row = store._sql(f"SELECT coalesce(sum(CASE WHEN kind='file' THEN size END), 0),"
                    f" count(CASE WHEN kind='file' THEN 1 END), count(*) FROM entry e"
                    f" WHERE e.location_id=? AND {cond}", [location_id, *params]).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def _direct(store, alias: str, directory: str) -> tuple[str, list]:
    """Entries directly inside ``directory`` (no '/' after its prefix)."""
    lo, hi = subtree_range(directory)
    return (f"({alias}.path >= ? AND {alias}.path < ? AND {dialect(store).no_slash_after(f'{alias}.path', len(lo) + 1)})",
            [lo, hi])


def _gone_table(store) -> None:
    """``ix_gone``, this connection's scratch table of entries gone from where they were
    (a temporary table: unqualified, the connection's own one is found first)."""
    d = dialect(store)
    store._sql(f"CREATE TEMP TABLE IF NOT EXISTS ix_gone (id {d.int_pk}, device {d.bigint}, inode {d.bigint},"
               f" kind TEXT, path {d.blob}, size {d.bigint}, mtime_ns {d.bigint})")
    store._sql("DELETE FROM ix_gone")


def _collect_gone(store, job_id: int, location_id: int, cond: str, params: list) -> None:
    store._sql(f"INSERT INTO ix_gone SELECT e.id, e.device, e.inode, e.kind, e.path, e.size,"
               f" e.mtime_ns FROM entry e WHERE e.location_id=? AND {cond} AND NOT EXISTS"
               f" (SELECT 1 FROM index_scan s WHERE s.job_id=? AND s.path=e.path) ON CONFLICT DO NOTHING",
               [location_id, *params, job_id])


def _move_gone(store, job_id: int, location_id: int) -> tuple[int, int]:
    """Pair what is gone with what is new by (device, inode, kind); give the old
    rows their new paths. Returns (moved, deleted): what stayed below a moved
    directory's old path is gone for good."""
    if not store._sql("SELECT 1 FROM ix_gone LIMIT 1").fetchone():
        return 0, 0
    store._sql("CREATE INDEX IF NOT EXISTS ix_gone_ino ON ix_gone(device, inode, kind)")
    pairs = store._sql(
        f"SELECT s.path, s.name, g.id, g.kind, g.path FROM index_scan s {dialect(store).cross_join} ix_gone g"
        " ON g.device = s.device AND g.inode = s.inode AND g.kind = s.kind"
        " AND (s.kind = 'dir' OR (g.size = s.size AND g.mtime_ns = s.mtime_ns))"
        " WHERE s.job_id=? AND NOT EXISTS (SELECT 1 FROM entry e WHERE e.location_id=? AND e.path=s.path)"
        " ORDER BY s.path", (job_id, location_id)).fetchall()
    used_ids: set[int] = set()
    used_paths: set[bytes] = set()
    moves, old_dirs = [], []
    for path, name, entry_id, kind, old in pairs:
        if entry_id in used_ids or path in used_paths:
            continue  # hard links: one old row per new path
        used_ids.add(entry_id)
        used_paths.add(path)
        moves.append((path, name, entry_id))
        if kind == "dir":
            old_dirs.append(old)
    many(store, "UPDATE entry SET path=?, name=? WHERE id=?", moves)
    orphans = 0
    for old in old_dirs:
        lo, hi = subtree_range(os.fsdecode(old))
        orphans += store._sql("DELETE FROM entry WHERE location_id=? AND path >= ? AND path < ?",
                             (location_id, lo, hi)).rowcount
    store._sql("DELETE FROM ix_gone")
    return len(moves), orphans


def apply_moves(store, job_id: int, location_id: int, targets: Iterable[str],
                keep: Sequence[bytes]) -> tuple[int, int]:
    """Moves within the scopes of ``targets`` (each: itself and all below)."""
    _gone_table(store)
    for target in targets:
        cond, params = scope("e", target)
        _collect_gone(store, job_id, location_id, cond, params)
    if keep:
        gone = store._sql("SELECT id, path FROM ix_gone").fetchall()
        many(store, "DELETE FROM ix_gone WHERE id=?", [(i,) for i, p in gone if _kept(p, keep)])
    return _move_gone(store, job_id, location_id)


def apply_moves_in(store, job_id: int, location_id: int, dirs: Iterable[str]) -> tuple[int, int]:
    """Moves out of the directories whose direct children were listed again
    (what was below a vanished child directory counts as gone too)."""
    _gone_table(store)
    replaced = []  # directories that are something else now: what was below them is gone
    for d in dirs:
        cond, params = _direct(store, "e", d)
        _collect_gone(store, job_id, location_id, cond, params)
        replaced += [r[0] for r in store._sql(
            f"SELECT e.path FROM entry e JOIN index_scan s ON s.job_id=? AND s.path=e.path"
            f" WHERE e.location_id=? AND {cond} AND e.kind='dir' AND s.kind<>'dir'",
            [job_id, location_id, *params])]
    below = [r[0] for r in store._sql("SELECT path FROM ix_gone WHERE kind='dir'")] + replaced
    for old in below:
        lo, hi = subtree_range(os.fsdecode(old))
        _collect_gone(store, job_id, location_id, "(e.path >= ? AND e.path < ?)", [lo, hi])
    moved, deleted = _move_gone(store, job_id, location_id)
    for old in replaced:
        lo, hi = subtree_range(os.fsdecode(old))
        deleted += store._sql("DELETE FROM entry WHERE location_id=? AND path >= ? AND path < ?",
                             (location_id, lo, hi)).rowcount
    return moved, deleted


def delete_gone_in(store, job_id: int, location_id: int, directory: str) -> int:
    """Delete the direct children of ``directory`` that were not listed again, with
    everything below them."""
    cond, params = _direct(store, "e", directory)
    gone = store._sql(f"SELECT e.id, e.path, e.kind FROM entry e WHERE e.location_id=? AND {cond} AND NOT EXISTS"
                     f" (SELECT 1 FROM index_scan s WHERE s.job_id=? AND s.path=e.path)",
                     [location_id, *params, job_id]).fetchall()
    many(store, "DELETE FROM entry WHERE id=?", [(i,) for i, _p, _k in gone])
    deleted = len(gone)
    for _i, path, kind in gone:
        if kind == "dir":
            lo, hi = subtree_range(os.fsdecode(path))
            deleted += store._sql("DELETE FROM entry WHERE location_id=? AND path >= ? AND path < ?",
                                 (location_id, lo, hi)).rowcount
    return deleted


def chunk_end(store, job_id: int, after: bytes, size: int) -> bytes | None:
    """The scanned path ``size`` rows after ``after`` (None: the rest is smaller)."""
    row = store._sql("SELECT path FROM index_scan WHERE job_id=? AND path > ? ORDER BY path LIMIT 1 OFFSET ?",
                    (job_id, after, size - 1)).fetchone()
    return row[0] if row else None


def apply_chunk(store, job_id: int, location_id: int, after: bytes, upto: bytes | None) -> tuple[int, int]:
    """Update changed and insert new entries for scanned paths in (after, upto].
    Returns (modified entries that are not directories, new entries)."""
    rng = "s.job_id=? AND s.path > ?" + ("" if upto is None else " AND s.path <= ?")
    rp = [job_id, after] + ([] if upto is None else [upto])
    # a LIMIT keeps SQLite from flattening the subquery: the chunk drives the join
    # (one index lookup per scanned row), not a scan of every entry of the location.
    chunk = f"(SELECT * FROM index_scan s WHERE {rng} {NO_FLATTEN}) AS s"
    d = dialect(store)
    changed = store._sql(
        f"UPDATE entry SET kind=s.kind, size=s.size, inode=s.inode, device=s.device, mode=s.mode,"
        f" mtime_ns=s.mtime_ns, name=s.name, {_KEEP_IF_SAME} FROM {chunk}"
        f" WHERE entry.location_id=? AND entry.path=s.path AND {_CHANGED} RETURNING entry.kind",
        [*rp, location_id]).fetchall()
    store._sql(
        f"UPDATE entry SET subtree_size=s.subtree_size, subtree_files=s.subtree_files FROM {chunk}"
        f" WHERE s.kind='dir' AND s.subtree_size IS NOT NULL AND entry.location_id=?"
        f" AND entry.path=s.path AND (entry.subtree_size {d.distinct} s.subtree_size"
        f" OR entry.subtree_files {d.distinct} s.subtree_files)", [*rp, location_id])
    new = store._sql(
        f"INSERT INTO entry (location_id, path, name, kind, size, inode, device, mode, mtime_ns, subtree_size,"
        f" subtree_files) SELECT ?, s.path, s.name, s.kind, s.size, s.inode, s.device, s.mode, s.mtime_ns,"
        f" s.subtree_size, s.subtree_files FROM index_scan s WHERE {rng} AND NOT EXISTS"
        f" (SELECT 1 FROM entry e WHERE e.location_id=? AND e.path=s.path)"
        # a row another job wrote since (a copy into the location, on PostgreSQL, whose writers
        # do not queue on one lock as SQLite's do) is that job's: it has the file as it is now
        f" ON CONFLICT (location_id, path) DO NOTHING",
        [location_id, *rp, location_id]).rowcount
    return sum(1 for (kind,) in changed if kind != "dir"), new


def delete_gone(store, job_id: int, location_id: int, target: str, after: bytes | None,
                keep: Sequence[bytes], limit: int) -> tuple[int, bytes | None]:
    """Delete up to ``limit`` entries in the target's scope that the walk did not
    see, in path order after ``after``. Returns (deleted, cursor); the cursor is
    None when the scope is done."""
    deleted = 0
    if after is None:
        own = _fsencode(target)
        if not store._sql("SELECT 1 FROM index_scan WHERE job_id=? AND path=?", (job_id, own)).fetchone() \
                and not _kept(own, keep):
            deleted += store._sql("DELETE FROM entry WHERE location_id=? AND path=?", (location_id, own)).rowcount
        after = b""
    lo, hi = subtree_range(target)
    rows = store._sql(
        "SELECT e.id, e.path FROM entry e WHERE e.location_id=? AND e.path >= ? AND e.path < ? AND e.path > ?"
        " AND NOT EXISTS (SELECT 1 FROM index_scan s WHERE s.job_id=? AND s.path=e.path)"
        " ORDER BY e.path LIMIT ?", (location_id, lo, hi, after, job_id, limit)).fetchall()
    doomed = [(i,) for i, p in rows if not _kept(p, keep)]
    many(store, "DELETE FROM entry WHERE id=?", doomed)
    deleted += len(doomed)
    return deleted, (rows[-1][1] if len(rows) == limit else None)


# -- a verifying re-index's directories (``index_dirs``) ------------------------------------
def changed_dirs(store, job_id: int, changed: int = 1) -> list[str]:
    """The directories a verifying re-index listed again (``changed`` 1: their children
    are staged; 2: they had too many children to send, to be listed again)."""
    return [os.fsdecode(r[0]) for r in store._sql(
        "SELECT path FROM index_dirs WHERE job_id=? AND changed=? ORDER BY path", (job_id, changed))]


def stage_dirs(store, job_id: int, dirs: list[tuple[bytes, int, int | None]]) -> None:
    """(path, changed, digest) of directories a verifying walk compared."""
    many(store, f"INSERT INTO index_dirs (job_id, path, changed, digest) VALUES ({int(job_id)},?,?,?)"
                " ON CONFLICT(job_id, path) DO UPDATE SET changed=excluded.changed, digest=excluded.digest", dirs)


def stage_dir_totals(store, job_id: int, totals: list[tuple[bytes, int, int]]) -> None:
    """(path, subtree_size, subtree_files) of directories a verifying walk summed."""
    many(store, f"INSERT INTO index_dirs (job_id, path, subtree_size, subtree_files) VALUES ({int(job_id)},?,?,?)"
                " ON CONFLICT(job_id, path) DO UPDATE SET subtree_size=excluded.subtree_size,"
                " subtree_files=excluded.subtree_files", totals)


def dir_listed(store, job_id: int, path: str, digest: int) -> None:
    """A big changed directory was listed again: its children are staged now."""
    store._sql("UPDATE index_dirs SET changed=1, digest=? WHERE job_id=? AND path=?",
              (digest, job_id, _fsencode(path)))
