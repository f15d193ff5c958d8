"""A PostgreSQL store whose connection the server dropped: the verb that met the loss fails
(with the server's reason, not a failed ROLLBACK's), and the next one runs on a new connection."""

from __future__ import annotations

import time

import pytest


def _drop_connections(url: str) -> None:
    """End every other session of the database, and wait until they are gone."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        others = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                  " AND backend_type = 'client backend'")
        pids = [r[0] for r in admin.execute(others).fetchall()]
        assert pids
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
        deadline = time.monotonic() + 20
        while {r[0] for r in admin.execute(others).fetchall()} & set(pids):
            assert time.monotonic() < deadline, "the sessions did not end"
            time.sleep(0.01)


def test_a_dropped_connection_costs_one_verb(postgres_url):
    from sdjobs.store.open import open_store

    store = open_store(postgres_url)
    job_id = store.submit("copy", 1, {})
    _drop_connections(postgres_url)
    with pytest.raises(Exception, match="(?i)terminat|closed|lost") as failed:
        store.get(job_id)
    assert "rollback" not in str(failed.value).lower()
    assert store.get(job_id).status == "queued"  # a new connection
    store.close()


def test_a_connection_lost_inside_a_transaction_says_so(postgres_url):
    from sdjobs.store.open import open_store

    store = open_store(postgres_url)
    job_id = store.submit("copy", 1, {})
    with pytest.raises(Exception, match="(?i)terminat|closed|lost") as failed:
        with store._transaction():
            store._sql("UPDATE job SET priority = 5 WHERE id = ?", (job_id,))
            _drop_connections(postgres_url)
            store._sql("UPDATE job SET priority = 6 WHERE id = ?", (job_id,))
    assert "rollback" not in str(failed.value).lower()
    assert store.get(job_id).priority == 0  # nothing of the lost transaction was kept
    store.close()
