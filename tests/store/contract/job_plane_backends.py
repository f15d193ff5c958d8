"""The backends the job-plane contract (``test_job_plane.py``) runs against.

Each entry opens a client of the store kept in a directory: on a fresh directory, an empty
store; opened twice on the same directory, two clients of one store.

``postgres``: a database of its own per directory on the cluster ``$SDJOBS_TEST_POSTGRES``
names (tests/pgtest.py), dropped when the tests end; skipped with pgtest's message when
there is no cluster.

(Not a conftest.py: the suite's other tests import helpers ``from conftest``, and a second
module of that name would shadow tests/conftest.py.)
"""

from __future__ import annotations

import atexit
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit


def sqlite_store(tmp: Path):
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    return Store(Library(tmp / "lib" / "library.db"))


_DATABASES: dict[Path, str] = {}


def postgres_database(tmp: Path) -> str:
    """The URL of the database of ``tmp`` (made on first use, dropped at exit)."""
    from pgtest import ENV_VAR, admin_connection, not_available, with_database

    if tmp in _DATABASES:
        return _DATABASES[tmp]
    base, admin = admin_connection()
    import psycopg

    try:
        with admin:
            if not _DATABASES:
                _drop_stale(admin)
            name = f"{PREFIX}{int(time.time())}_{uuid.uuid4().hex[:8]}"
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    except psycopg.Error as exc:
        not_available(f"cannot connect to ${ENV_VAR}: {str(exc).strip().splitlines()[0]}")
    if not _DATABASES:
        atexit.register(_drop_all, base)
    _DATABASES[tmp] = with_database(base, name)
    return _DATABASES[tmp]


PREFIX = "sdjobs_contract_"
STALE = 3 * 3600  # seconds: a database of a session that died before it could drop its own


def _drop_stale(admin) -> None:
    """Drop what killed sessions left: their databases are named with the time they were made."""
    rows = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)).fetchall()
    for (name,) in rows:
        made = name[len(PREFIX):].partition("_")[0]
        if made.isdigit() and time.time() - int(made) > STALE:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop_all(base: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True, connect_timeout=5) as admin:
        for url in _DATABASES.values():
            for attempt in range(5):
                try:
                    admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
                    break
                except psycopg.errors.InsufficientPrivilege:
                    # a session of another role is in it, which FORCE may not end for this role (most
                    # likely an autovacuum worker, the cluster superuser's, gone in a moment); a
                    # database left behind is dropped as stale by a later run
                    time.sleep(0.2 * (attempt + 1))


def postgres_store(tmp: Path):
    from sdjobs.store.open import open_store

    return open_store(postgres_database(tmp))


BACKENDS: dict[str, Callable] = {"sqlite": sqlite_store, "postgres": postgres_store}
