"""peewee, imported without the PostgreSQL driver.

peewee imports psycopg (or psycopg2) when it is itself imported, if one is installed:
with ``sdjobs[postgres]`` that was 89 ms of the 167 ms a cold `sdjobs jobs ls` spent
importing (``python -X importtime``, 2026-12-06), for a SQLite library that never needs
it. So the drivers are hidden while peewee is imported; ``with_psycopg`` hands peewee the
driver for a PostgreSQL library, when one is opened.

peewee itself (about 30 ms of CPU) is imported when it is first used, not when the store is:
``pw`` stands for the module, and ``library_database`` makes the SQLite library's database
class on first use. A command that only reads (``jobs ls``, store/reader.py) never loads it.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

_HIDDEN = ("psycopg2", "psycopg2cffi", "psycopg")


def _import_peewee() -> Any:
    if "peewee" in sys.modules:
        return sys.modules["peewee"]
    saved = {name: sys.modules.get(name, ...) for name in _HIDDEN}
    for name in _HIDDEN:
        if saved[name] is ...:
            sys.modules[name] = None  # type: ignore[assignment]  # (an import of it raises ImportError)
    try:
        return importlib.import_module("peewee")
    finally:
        for name, mod in saved.items():
            if mod is ...:
                sys.modules.pop(name, None)


class _Lazy:
    """peewee, imported at the first look at one of its names."""

    def __getattr__(self, name: str):
        return getattr(_import_peewee(), name)

    def __setattr__(self, name: str, value) -> None:
        setattr(_import_peewee(), name, value)


pw = _Lazy()
_library_database = None


def library_database():
    """The SQLite library's peewee database class (made once, at its first use)."""
    global _library_database
    if _library_database is None:
        base: Any = _import_peewee().SqliteDatabase

        class LibraryDatabase(base):
            """SQLite ends the transaction itself when a write fails for good (a full disk, an I/O
            error); a ROLLBACK then fails with "no transaction is active", which would replace the
            error that says what happened."""

            def rollback(self):
                if not self.is_closed() and not self.connection().in_transaction:
                    return
                super().rollback()

        _library_database = LibraryDatabase
    return _library_database


def with_psycopg() -> Any:
    """peewee (the module itself) as it would be had psycopg 3 been importable when it was imported."""
    if pw.psycopg is None:
        import psycopg
        from psycopg.pq import TransactionStatus
        from psycopg.types.json import Json, Jsonb

        pw.psycopg, pw.TransactionStatus, pw.Json_pg3, pw.Jsonb_pg3 = psycopg, TransactionStatus, Json, Jsonb
        adapter = pw.Psycopg3Adapter  # (its class body read the driver's constants only if it was there)
        adapter.txn_idle, adapter.txn_inerror, adapter.txn_unknown = (
            TransactionStatus.IDLE, TransactionStatus.INERROR, TransactionStatus.UNKNOWN)
    return _import_peewee()
