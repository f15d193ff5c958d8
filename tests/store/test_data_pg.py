"""The PostgreSQL data plane's pieces that need no server: workers' handles of a URL."""

from __future__ import annotations

import pickle

from sdjobs.store.data_pg import qmark
from sdjobs.store.index_content import ContentWorker
from sdjobs.store.index_reader import IndexReader


def test_workers_handles_never_show_the_password():
    url = "postgresql://sdjobs:s3cret@db.example/jobs?password=s3cret&sslmode=require"
    for handle in (IndexReader(url, "/tmp/data"), ContentWorker(url)):
        again = pickle.loads(pickle.dumps(handle))  # as a pool worker gets it: the URL whole
        assert again.db_path == url
        assert "s3cret" not in repr(handle) and "db.example/jobs" in repr(handle)


def test_qmark_sql_as_psycopg_takes_it():
    assert qmark("SELECT ? WHERE name LIKE '10%' AND x IN (?,?)") == \
        "SELECT %s WHERE name LIKE '10%%' AND x IN (%s,%s)"
