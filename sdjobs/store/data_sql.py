"""What the data plane's SQL says differently on SQLite and on PostgreSQL.

The data-plane modules (``index_*``, ``thumbs_*``, ``dupes_queries``) keep one copy of
each statement, written in the SQL both engines read (qmark ``?`` placeholders: the
PostgreSQL connection translates them). Where no common spelling exists, the statement
takes a fragment from the ``Dialect`` of the connection it runs on:

- column types of scratch tables (``BLOB``/``BYTEA``, 64-bit integers: PostgreSQL's
  ``INTEGER`` is 32 bits, SQLite's ``INTEGER PRIMARY KEY`` is the rowid);
- ``CROSS JOIN ... ON``, which SQLite reads as "this join order" and PostgreSQL refuses;
- "no '/' in this BLOB after byte n" (``instr``/``substr`` against ``position``);
- ``IS NOT`` between nullable values (SQLite before 3.39 has no ``IS DISTINCT FROM``).

Portable spellings used instead of SQLite-only ones (no fragment needed): ``RETURNING
id`` for ``lastrowid``; ``ON CONFLICT ... DO UPDATE/DO NOTHING`` for ``INSERT OR
REPLACE/IGNORE``; ``CASE`` for scalar ``max(a, b)``; ``1=1``/``1=0`` for bare ``1``/``0``;
unqualified names of temporary tables; ``LIMIT`` with the largest 64-bit integer where
SQLite needs a ``LIMIT`` to keep a subquery from being flattened (``LIMIT -1`` is SQLite's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

# "every row", spelled so both engines accept it: SQLite does not flatten a subquery
# that has a LIMIT (the staged chunk then drives the join), PostgreSQL refuses LIMIT -1.
NO_FLATTEN = "LIMIT 9223372036854775807"


class Dialect(NamedTuple):
    name: str
    blob: str        # a column of bytes
    bigint: str      # a 64-bit integer column that is not a primary key
    int_pk: str      # a 64-bit integer primary key
    cross_join: str  # a join whose left side is read first
    distinct: str    # "is different from", NULLs compared as values

    def no_slash_after(self, column: str, start: int) -> str:
        """SQL true when ``column`` (bytes) has no '/' from its 1-based byte ``start`` on."""
        if self.name == "postgres":
            return f"position('\\x2f'::bytea in substr({column}, {int(start)})) = 0"
        return f"instr(substr({column}, {int(start)}), x'2f') = 0"


SQLITE = Dialect("sqlite", "BLOB", "INTEGER", "INTEGER PRIMARY KEY", "CROSS JOIN", "IS NOT")
POSTGRES = Dialect("postgres", "BYTEA", "BIGINT", "BIGINT PRIMARY KEY", "JOIN", "IS DISTINCT FROM")


def dialect(store: Any) -> Dialect:
    """The dialect of a store (``Store``, ``PgStore``: by its library's address) or of a
    worker's connection (by its ``dialect``)."""
    name = getattr(store, "dialect", None)
    if name is None:
        library = getattr(store, "library", None)
        name = "postgres" if library is not None and is_url(str(library.db_path)) else "sqlite"
    return POSTGRES if name == "postgres" else SQLITE


PG_SCHEMES = ("postgresql://", "postgres://")


def is_url(address: str) -> bool:
    """Whether a library address names a PostgreSQL database (else: an SQLite file)."""
    return address.startswith(PG_SCHEMES)


def many(store: Any, query: str, rows: Iterable[Sequence]) -> None:
    """``executemany`` on the store's connection (in its transaction, if one is open)."""
    run = getattr(store, "_executemany", None)
    if run is not None:
        run(query, rows)
    else:
        store._db.cursor().executemany(query, rows)
