"""``sdjobs thumbs prune``: thumbnails that no file refers to any more, and their sidecars.

A sidecar is referenced while a thumbnail source (``thumb_source``) or an indexed file
(``entry``) has its content id. Pruning goes in three steps:

1. sources whose file is gone are forgotten: gone means its directory is there and the
   name is not; a source whose directory is missing too (an unmounted disk, most likely)
   is kept, unless ``missing_folders``;
2. thumbnails whose content id nothing refers to are deleted, each re-checked in the
   transaction that deletes it, and their sidecar files removed after it commits;
3. files under the library's ``thumbs/`` folder that no thumbnail names (left by a crash
   between writing a sidecar and recording it) are removed once they are an hour old,
   so a thumbs job writing one now is never raced.

Nothing outside the library's ``thumbs/`` folder is removed; a dry run changes nothing.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from .data_sql import dialect, many
from .thumbs_store import THUMBS_DIR

ORPHAN_GRACE = 3600.0
_fsencode, _fsdecode = os.fsencode, os.fsdecode
_REFERENCED = ("EXISTS (SELECT 1 FROM thumb_source s WHERE s.cas_id = t.cas_id)"
               " OR EXISTS (SELECT 1 FROM thumb_refs r WHERE r.cas_id = t.cas_id)")


@dataclasses.dataclass
class ThumbsPruned:
    sources: int = 0          # sources forgotten: their file is gone
    kept_unreachable: int = 0  # sources kept: their folder is missing too
    thumbnails: int = 0       # thumbnail rows deleted
    files: int = 0            # sidecar files removed (or that would be)
    bytes: int = 0
    dry_run: bool = False
    sidecars: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _gone(path: str) -> bool | None:
    """True: the file is gone from a directory that is there; None: its directory is
    missing too; False: it is there (or cannot be told)."""
    try:
        os.lstat(path)
        return False
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True if os.path.isdir(os.path.dirname(path)) else None


def prune(store, data_dir: str | os.PathLike, *, dry_run: bool = False, missing_folders: bool = False,
          now: float | None = None) -> ThumbsPruned:
    now = time.time() if now is None else now
    data_dir = Path(data_dir)
    out = ThumbsPruned(dry_run=dry_run)
    gone: list[bytes] = []
    cur = store._sql("SELECT path FROM thumb_source")
    while rows := cur.fetchmany(2000):
        for (raw,) in rows:
            state = _gone(_fsdecode(raw))
            if state is None and not missing_folders:
                out.kept_unreachable += 1
            elif state is not False:
                gone.append(raw)
    out.sources = len(gone)
    # scratch tables of this connection (temporary: unqualified, its own are found first)
    store._sql("CREATE TEMP TABLE IF NOT EXISTS thumb_refs (cas_id TEXT PRIMARY KEY)")
    store._sql("DELETE FROM thumb_refs")
    store._sql("INSERT INTO thumb_refs SELECT cas_id FROM entry WHERE cas_id IS NOT NULL ON CONFLICT DO NOTHING")
    try:
        if dry_run:
            store._sql(f"CREATE TEMP TABLE IF NOT EXISTS thumb_gone (path {dialect(store).blob} PRIMARY KEY)")
            store._sql("DELETE FROM thumb_gone")
            many(store, "INSERT INTO thumb_gone VALUES (?) ON CONFLICT DO NOTHING", [(g,) for g in gone])
            doomed = store._sql(
                "SELECT t.id, t.path FROM thumbnail t WHERE NOT (EXISTS (SELECT 1 FROM thumb_source s WHERE"
                " s.cas_id = t.cas_id AND s.path NOT IN (SELECT path FROM thumb_gone))"
                " OR EXISTS (SELECT 1 FROM thumb_refs r WHERE r.cas_id = t.cas_id))").fetchall()
        else:
            with store._transaction():
                for i in range(0, len(gone), 500):
                    part = gone[i:i + 500]
                    store._sql(f"DELETE FROM thumb_source WHERE path IN ({','.join('?' * len(part))})", part)
                doomed = store._sql(f"SELECT t.id, t.path FROM thumbnail t WHERE NOT ({_REFERENCED})").fetchall()
                for i in range(0, len(doomed), 500):
                    part = [d[0] for d in doomed[i:i + 500]]
                    store._sql(f"DELETE FROM thumbnail WHERE id IN ({','.join('?' * len(part))})", part)
    finally:
        store._sql("DROP TABLE IF EXISTS thumb_refs")
        store._sql("DROP TABLE IF EXISTS thumb_gone")
    out.thumbnails = len(doomed)
    named = {rel for (rel,) in store._sql("SELECT path FROM thumbnail")}
    doomed_rel = {rel for _id, rel in doomed}
    for rel in sorted(doomed_rel):
        _remove(data_dir, rel, out, dry_run)
    root = data_dir / THUMBS_DIR
    for dirpath, _dirs, files in os.walk(root):  # sidecars no row names: a crash's leftovers
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), data_dir)
            if rel in named or rel in doomed_rel:
                continue
            try:
                if now - os.lstat(os.path.join(dirpath, name)).st_mtime < ORPHAN_GRACE:
                    continue
            except OSError:
                continue
            _remove(data_dir, rel, out, dry_run)
    return out


def _remove(data_dir: Path, rel: str, out: ThumbsPruned, dry_run: bool) -> None:
    path = data_dir / rel
    if not _inside(path, data_dir / THUMBS_DIR):
        return  # a row naming something outside the thumbnails folder is never followed
    try:
        st = os.lstat(path)
        if not dry_run:
            os.unlink(path)
    except OSError:
        return
    out.files += 1
    out.bytes += st.st_size
    out.sidecars.append(str(path))


def _inside(path: Path, folder: Path) -> bool:
    p, f = os.path.normpath(path), os.path.normpath(folder)
    return p.startswith(f.rstrip("/") + "/") and ".." not in Path(os.path.relpath(p, f)).parts
