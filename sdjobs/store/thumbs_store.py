"""Reads and bulk writes of thumbnails and their sources (tables of ``schema/thumbs.py``).

Plain SQL, no per-row ORM objects. Source paths cross this module as ``str``
(surrogateescape) and are stored as BLOBs; sidecar paths are stored relative
to the library's data folder, so a library folder that moves keeps working.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NamedTuple
from collections.abc import Iterable, Iterator

from .data_sql import many

_fsencode, _fsdecode = os.fsencode, os.fsdecode

THUMBS_DIR = "thumbs"


def sidecar_relpath(cas_id: str, variant: str, fmt: str) -> str:
    """``thumbs/ab/abcdef0123456789-256.webp``: sharded by content identity."""
    return f"{THUMBS_DIR}/{cas_id[:2]}/{cas_id}-{variant}.{fmt}"


class SourceRow(NamedTuple):
    path: str
    cas_id: str | None
    mtime_ns: int
    size: int
    status: str  # ok | failed | not-image
    error: str | None
    job_id: int | None
    updated_at: float


class ThumbRow(NamedTuple):
    cas_id: str
    variant: str
    size: int
    format: str
    width: int
    height: int
    path: str  # relative to the data folder
    created_at: float


class Listed(NamedTuple):
    """One line of ``thumbs ls``: a source and one of its thumbnails (or none)."""

    source: str
    cas_id: str | None
    status: str
    error: str | None
    variant: str | None
    size: int | None
    format: str | None
    width: int | None
    height: int | None
    sidecar: str | None  # absolute path
    created_at: float | None


_SRC_COLS = "path, cas_id, mtime_ns, size, status, error, job_id, updated_at"
_THUMB_COLS = "cas_id, variant, size, format, width, height, path, created_at"


def source(store, path: str) -> SourceRow | None:
    row = store._sql(f"SELECT {_SRC_COLS} FROM thumb_source WHERE path=?", (_fsencode(path),)).fetchone()
    return SourceRow(_fsdecode(row[0]), *row[1:]) if row else None


def thumbs_of(store, cas_id: str, fmt: str) -> dict[str, ThumbRow]:
    """The thumbnails of content ``cas_id`` in format ``fmt``, by variant name."""
    rows = store._sql(f"SELECT {_THUMB_COLS} FROM thumbnail WHERE cas_id=? AND format=?", (cas_id, fmt))
    return {r[1]: ThumbRow(*r) for r in rows}


def record(store, sources: Iterable[tuple], thumbs: Iterable[tuple]) -> None:
    """Upsert in one transaction.

    ``sources``: (path, cas_id, mtime_ns, size, status, error, job_id);
    ``thumbs``: (cas_id, variant, size, format, width, height, relpath)."""
    now = time.time()
    src = [(_fsencode(p), cas, m, s, st, err, job, now) for p, cas, m, s, st, err, job in sources]
    th = [(*t, now) for t in thumbs]
    if not src and not th:
        return
    with store._transaction():
        if th:
            many(
                store, f"INSERT INTO thumbnail ({_THUMB_COLS}) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT (cas_id, variant, format) DO UPDATE SET size=excluded.size,"
                " width=excluded.width, height=excluded.height, path=excluded.path,"
                " created_at=excluded.created_at", th)
        if src:
            many(
                store, f"INSERT INTO thumb_source ({_SRC_COLS}) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT (path) DO UPDATE SET cas_id=excluded.cas_id, mtime_ns=excluded.mtime_ns,"
                " size=excluded.size, status=excluded.status, error=excluded.error,"
                " job_id=excluded.job_id, updated_at=excluded.updated_at", src)


def _range(path: str) -> tuple[bytes, bytes, bytes]:
    exact = _fsencode(path.rstrip("/") or "/")
    prefix = exact.rstrip(b"/") + b"/"
    return exact, prefix, prefix[:-1] + b"0"  # '0' is the byte after '/'


def listing(store, data_dir: Path, paths: list[str] | None = None, *,
            include_failed: bool = True) -> Iterator[Listed]:
    """Sources at or under ``paths`` (all when None) with their thumbnails,
    in path order; one item per (source, thumbnail), or one with no
    thumbnail for sources that failed or have none."""
    conds, params = [], []
    for p in paths or []:
        exact, lo, hi = _range(os.path.abspath(p))
        conds.append("(s.path = ? OR (s.path >= ? AND s.path < ?))")
        params += [exact, lo, hi]
    where = " OR ".join(conds) or "1=1"
    if not include_failed:
        where = f"({where}) AND s.status = 'ok'"
    cur = store._sql(
        "SELECT s.path, s.cas_id, s.status, s.error, t.variant, t.size, t.format, t.width, t.height, t.path,"
        " t.created_at FROM thumb_source s LEFT JOIN thumbnail t ON t.cas_id = s.cas_id AND s.status = 'ok'"
        f" WHERE {where} AND s.status != 'not-image' ORDER BY s.path, t.size, t.variant, t.format", params)
    while rows := cur.fetchmany(1000):
        for r in rows:
            sidecar = str(data_dir / r[9]) if r[9] is not None else None
            yield Listed(_fsdecode(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], sidecar, r[10])


def counts(store) -> dict[str, int]:
    sources = store._sql("SELECT COUNT(*) FROM thumb_source WHERE status='ok'").fetchone()[0]
    thumbs = store._sql("SELECT COUNT(*) FROM thumbnail").fetchone()[0]
    return {"sources": sources, "thumbnails": thumbs}
