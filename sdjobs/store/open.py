"""Opening a library by its name: a SQLite file (``Store``) or a PostgreSQL URL (``PgStore``).

Every command, runner and job process opens its library here, from a ``Library`` /
``PostgresLibrary`` or from the name a runner hands its processes (``library.db_path``).
``pip install sdjobs`` does not bring psycopg: naming a PostgreSQL library without it is a
one-line error that says what to install.
"""

from __future__ import annotations

import os

from ..core.errors import BadInput
from .api import Store
from .library import AnyLibrary, PostgresLibrary, named

INSTALL = "pip install 'sdjobs[postgres]'"


class PostgresMissing(BadInput):
    """A PostgreSQL library was named, but psycopg is not installed."""


def open_store(library: AnyLibrary | str | os.PathLike, *, create: bool = True) -> Store:
    """The store of ``library`` (or of the library so named: a path or a PostgreSQL URL)."""
    if isinstance(library, (str, os.PathLike)):
        library = named(library)
    if isinstance(library, PostgresLibrary):
        try:
            from .pg.store import PgStore
        except ImportError as exc:
            if (exc.name or "").split(".")[0] != "psycopg":
                raise
            raise PostgresMissing(f"{library.shown} is a PostgreSQL library, and psycopg is not installed:"
                                  f" {INSTALL}") from None
        return PgStore(library, create=create)
    return Store(library, create=create)
