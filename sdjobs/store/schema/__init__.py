"""Versioned schema, one linear list of migrations per component.

Each component module (``core``, and one per feature that owns tables) has a
``MIGRATIONS`` list; entry *i* takes that component from version *i* to
*i + 1*. The versions applied are kept in ``schema_version``. Entries are
SQL scripts (str) or callables taking the sqlite3 connection. Never edit a
released entry; append a new one.

The same versions make the schema of a PostgreSQL library (``store/pg/schema.py``): scripts
are translated (types), a step the dialects cannot share has its PostgreSQL form in the
component's ``POSTGRES`` dict (step index -> script or callable), and callables are given a
connection that takes the same qmark SQL (its ``dialect`` is ``"postgres"``).
A callable with ``FOREIGN_KEYS_OFF`` set runs with
foreign keys off (to make a table anew that others reference), and its transaction
commits only if ``PRAGMA foreign_key_check`` finds no more rows without a parent than before.
"""

from __future__ import annotations

import importlib
import sqlite3

from ...core.errors import BadInput

COMPONENTS = ["core", "index", "thumbs", "schedule", "results", "events", "settings", "identity", "hosts"]


def _modules():
    for name in COMPONENTS:
        try:
            yield name, importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise


def target_versions() -> dict[str, int]:
    return {name: len(mod.MIGRATIONS) for name, mod in _modules()}


def current_versions(conn: sqlite3.Connection) -> dict[str, int]:
    try:
        rows = conn.execute("SELECT component, version FROM schema_version").fetchall()
    except sqlite3.OperationalError:
        return {}
    return dict(rows)


class SchemaTooNew(BadInput):
    """The library was written by a newer sdjobs: this one must not touch it."""


def check_not_newer(conn: sqlite3.Connection, where: str = "the library") -> None:
    """Refuse a library whose schema this code does not know (a newer sdjobs wrote it)."""
    target = target_versions()
    for name, have in sorted(current_versions(conn).items()):
        if name in target and have > target[name]:
            raise SchemaTooNew(f"{where} has schema {name} v{have}, newer than this sdjobs knows "
                               f"(v{target[name]}): upgrade sdjobs to use it")


def needs_migration(conn: sqlite3.Connection) -> bool:
    current = current_versions(conn)
    return any(current.get(name, 0) < v for name, v in target_versions().items())


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply what is missing, each migration in its own transaction."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    applied = []
    for name, mod in _modules():
        have = current_versions(conn).get(name, 0)
        newer = max(have, len(mod.MIGRATIONS))
        if have > len(mod.MIGRATIONS):
            raise SchemaTooNew(f"the library has schema {name} v{have}, newer than this sdjobs knows "
                               f"(v{len(mod.MIGRATIONS)}): upgrade sdjobs to use it")
        for version in range(have, newer):
            step = mod.MIGRATIONS[version]
            fk_off = getattr(step, "FOREIGN_KEYS_OFF", False)
            if fk_off:
                conn.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: before it
            conn.execute("BEGIN IMMEDIATE")
            try:
                orphans = len(conn.execute("PRAGMA foreign_key_check").fetchall()) if fk_off else 0
                if callable(step):
                    step(conn)
                else:
                    for stmt in _statements(step):
                        conn.execute(stmt)
                if fk_off and len(conn.execute("PRAGMA foreign_key_check").fetchall()) > orphans:
                    raise RuntimeError(f"migration {name}:{version + 1} left rows without their parent")
                conn.execute(
                    "INSERT INTO schema_version(component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (name, version + 1),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                if fk_off:
                    conn.execute("PRAGMA foreign_keys=ON")
            applied.append(f"{name}:{version + 1}")
    return applied


def _statements(script: str):
    for stmt in script.split(";\n"):
        if stmt.strip():
            yield stmt
