"""A read-only glance at a library, for shell completion: fast, and harmless.

It imports nothing but ``sqlite3`` and the library's path rules (no peewee, no ``Store``),
never creates a library, never waits for a lock for long, and writes nothing. This is the
SQLite backend's fast path; another backend would answer these two questions its own way.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

from .libpath import resolve_db_path


def _connect(library: str | None) -> sqlite3.Connection | None:
    path = resolve_db_path(library)
    if not os.path.isfile(path):
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05)
    db.execute("PRAGMA query_only=1")
    return db


def job_types(library: str | None) -> list[str]:
    """Every job type the library has seen (none when there is no library)."""
    db = _connect(library)
    if db is None:
        return []
    with closing(db):
        return [r[0] for r in db.execute("SELECT DISTINCT type FROM job")]


def job_ids(library: str | None, statuses: list[str], limit: int) -> list[tuple[int, str, str]]:
    """(id, type, status) of the newest ``limit`` jobs, of these statuses (all when empty)."""
    db = _connect(library)
    if db is None:
        return []
    where = f" WHERE status IN ({','.join('?' * len(statuses))})" if statuses else ""
    with closing(db):
        return db.execute(f"SELECT id, type, status FROM job{where} ORDER BY id DESC LIMIT {int(limit)}",
                          statuses).fetchall()
