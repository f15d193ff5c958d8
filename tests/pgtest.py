"""PostgreSQL for the tests: ``postgres_url``, a fresh, empty database per test.

``$SDJOBS_TEST_POSTGRES`` names a cluster's database as a URL whose role may create databases
(``.ci/postgres.sh start`` prints one; CI exports it). Each test gets a database of its own,
created from ``template0`` and dropped after the test, even with connections still open. Without
the variable, psycopg or a reachable server, the test is skipped with the reason.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV_VAR = "SDJOBS_TEST_POSTGRES"


def not_available(why: str) -> NoReturn:
    pytest.skip(f"PostgreSQL not available: {why}")


def with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` instead (its host, port and role kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_connection():
    """(the cluster's URL, a connection to it whose role may create databases), or the test is
    skipped with the reason: no ``$SDJOBS_TEST_POSTGRES``, no psycopg, no server."""
    base = os.environ.get(ENV_VAR)
    if not base:
        not_available(f"${ENV_VAR} is not set (.ci/postgres.sh starts a cluster and prints its URL)")
    try:
        import psycopg
    except ImportError:
        not_available("psycopg is not installed (pip install -e '.[test]')")
    try:
        return base, psycopg.connect(base, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        not_available(f"cannot connect to ${ENV_VAR}: {str(exc).strip().splitlines()[0]}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base, admin = admin_connection()
    import psycopg
    from psycopg import sql

    name = f"sdjobs_test_{uuid.uuid4().hex[:12]}"
    try:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        yield with_database(base, name)
        for attempt in range(50):
            try:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                break
            except psycopg.errors.InsufficientPrivilege:
                # an autovacuum worker (the server's, not ours to end) is in the database: it
                # gives way soon (seen after a test wrote ~1,000 rows)
                if attempt == 49:
                    raise
                time.sleep(0.1)
    finally:
        admin.close()
