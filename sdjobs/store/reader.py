"""The store of a command that only reads (``sdjobs jobs ls`` with no runner alive): the same
verbs as ``Store``, over a plain ``sqlite3`` connection instead of peewee's.

peewee costs about 30 ms of CPU to import, a third of a cold `jobs ls`. The read verbs are
``Store``'s own (the same SQL, the same records), so the listing cannot drift from what the
full store would show. What a reader cannot do it refuses with ``NeedsWriter`` before it has
changed anything (a library to create or migrate, a transaction: ``recover_orphans`` found
a job whose runner died), and the caller opens the full store instead. The connection is
``query_only``: a write that does not go through a transaction fails too.
"""

from __future__ import annotations

import sqlite3

from ..core.errors import SdjobsError
from . import schema
from .api import BUSY_TIMEOUT, Store
from .library import Library


class NeedsWriter(SdjobsError):
    """The verb would write: use the full store (``open_store``)."""


class _Connection:
    """What ``Store`` uses of peewee's database, over one sqlite3 connection."""

    def __init__(self, path: str) -> None:
        self.database = path
        self._conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
        self._conn.execute("PRAGMA query_only=1")

    def connection(self) -> sqlite3.Connection:
        return self._conn

    def execute_sql(self, query: str, params=()) -> sqlite3.Cursor:
        return self._conn.execute(query, params)

    def cursor(self) -> sqlite3.Cursor:
        return self._conn.cursor()

    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def is_closed(self) -> bool:
        return False

    def close(self) -> None:
        self._conn.close()


class Reader(Store):
    """An existing SQLite library, opened to read."""

    def _open(self, library: Library, create: bool) -> None:
        if not library.db_path.is_file() or not library.data_dir.is_dir():
            raise NeedsWriter("the library or its folder is to be created")
        self._db = _Connection(str(library.db_path))
        conn = self._db.connection()
        self.opened_as = library.file_identity()
        schema.check_not_newer(conn, str(library.db_path))
        if schema.needs_migration(conn):
            raise NeedsWriter("the library's schema is to be migrated")

    def reopen(self) -> None:
        self._db = _Connection(self._db.database)

    def _transaction(self):
        raise NeedsWriter("a write")


def open_reader(library: Library) -> Reader:
    """A reader of ``library``; NeedsWriter when it does not exist yet or must be migrated."""
    return Reader(library, create=False)
