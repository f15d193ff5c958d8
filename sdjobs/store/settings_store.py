"""The library's settings as stored (``schema/settings.py``); names and values are
checked by ``core/settings.py`` before they get here."""

from __future__ import annotations

import time

from ..core import settings as defs


def get(store, name: str) -> str:
    """The value in force: the one set, or the default."""
    row = store._sql("SELECT value FROM library_setting WHERE key=?", (name,)).fetchone()
    return row[0] if row else defs.setting(name).default


def all_set(store) -> dict[str, tuple[str, float]]:
    """The settings that were set: name -> (value, when)."""
    return {k: (v, t) for k, v, t in store._sql("SELECT key, value, updated_at FROM library_setting ORDER BY key")}


def put(store, name: str, value: str) -> str:
    """Set ``name`` (checked and normalized); returns the value stored."""
    value = defs.normalize(name, value)
    store._sql("INSERT INTO library_setting (key, value, updated_at) VALUES (?,?,?)"
               " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
               (name, value, time.time()))
    return value


def unset(store, name: str) -> bool:
    """Back to the default; False if it was not set."""
    defs.setting(name)
    return store._sql("DELETE FROM library_setting WHERE key=?", (name,)).rowcount == 1
