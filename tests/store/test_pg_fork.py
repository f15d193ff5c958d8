"""A PostgreSQL store in a forked process: ``reopen`` cuts the parent's connections from the
child (a child that closes, or merely drops, what it inherited must not end the parent's
session: libpq says goodbye on the socket they share), and the child gets its own."""

from __future__ import annotations

import gc
import os


def test_a_child_that_reopens_leaves_the_parents_session_alone(postgres_url):
    from sdjobs.store.open import open_store

    store = open_store(postgres_url)
    job_id = store.submit("copy", 1, {})
    seen = store.data_version()  # (the LISTEN connection too)
    parent_pid = store._sql("SELECT pg_backend_pid()").fetchone()[0]
    pid = os.fork()
    if pid == 0:  # the child: reopen (the inherited connections are dropped then), work, exit
        code = 1
        try:
            inherited = [store._db.connection(), store._local.listener]
            store.reopen()
            for conn in inherited:  # closed here, as a fork's clean-up might: the parent's must live on
                conn.close()
            gc.collect()
            mine = store._sql("SELECT pg_backend_pid()").fetchone()[0]
            store.set_priority(job_id, 7)
            store.close()
            code = 0 if mine != parent_pid else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store._sql("SELECT pg_backend_pid()").fetchone()[0] == parent_pid  # the same session, alive
    assert store.get(job_id).priority == 7
    assert store.wait_changed(seen, 5) != seen  # the parent's listener still hears
    store.close()
