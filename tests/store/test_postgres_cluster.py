"""The PostgreSQL that the tests get (tests/pgtest.py, .ci/postgres.sh) does what a job queue on it
needs: a fresh database per test, row claims that skip each other, notifications that arrive."""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).parent.parent.parent


def connect(url: str, **kw):
    import psycopg

    return psycopg.connect(url, connect_timeout=5, **kw)


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_an_empty_database_of_its_own(postgres_url, run):
    with connect(postgres_url) as db:
        assert db.execute("SELECT current_database()").fetchone()[0] == urlsplit(postgres_url).path.lstrip("/")
        assert db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
        db.execute("CREATE TABLE mine (id int)")  # the other run must not see it
        db.commit()


def test_skip_locked_claims_give_two_connections_different_rows(postgres_url):
    with connect(postgres_url) as db:
        db.execute("CREATE TABLE job (id serial PRIMARY KEY, state text NOT NULL DEFAULT 'queued')")
        db.execute("INSERT INTO job (state) SELECT 'queued' FROM generate_series(1, 5)")
        db.commit()
    claim = "SELECT id FROM job WHERE state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    with connect(postgres_url) as a, connect(postgres_url) as b:
        first = a.execute(claim).fetchone()[0]  # a's transaction stays open: the row stays locked
        second = b.execute(claim).fetchone()[0]
        assert (first, second) == (1, 2)
        b.rollback()
        a.execute("UPDATE job SET state = 'running' WHERE id = %s", (first,))
        a.commit()
        assert b.execute(claim).fetchone()[0] == 2  # b's claim was released, a's row is taken for good


def test_listen_notify_delivers_within_a_second(postgres_url):
    with connect(postgres_url, autocommit=True) as listener, connect(postgres_url, autocommit=True) as sender:
        listener.execute("LISTEN job_changed")
        sender.execute("SELECT pg_notify('job_changed', '42')")
        got = [(n.channel, n.payload) for n in listener.notifies(timeout=1.0, stop_after=1)]
        assert got == [("job_changed", "42")]


def test_psycopg_comes_with_the_postgres_extra_only():
    """``pip install sdjobs`` stays SQLite-only; ``sdjobs[postgres]`` and the test extra bring psycopg."""
    from importlib.metadata import requires

    installed = [r for r in requires("sdjobs") or [] if "extra ==" not in r]
    assert installed and not [r for r in installed if r.lower().startswith("psycopg")], installed
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("psycopg")]
    extras = project["optional-dependencies"]
    assert [d for d in extras["postgres"] if d.startswith("psycopg[binary]")]
    assert "sdjobs[postgres]" in extras["test"]
