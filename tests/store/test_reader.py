"""The store's reader (store/reader.py): ``Store``'s read verbs over a plain sqlite3 connection,
without peewee. It must answer exactly what the full store answers, refuse every write before
it changes anything, and never create or migrate a library."""

import sqlite3

import pytest

from sdjobs.store.api import Store
from sdjobs.store.library import Library
from sdjobs.store.reader import NeedsWriter, open_reader


def _fill(store: Store) -> None:
    parent = store.submit("copy", 1, {"n": 0}, priority=3, host="any")
    kids = [store.submit("copy", 1, {"n": i}, parent_id=parent) for i in range(3)]
    store.submit("index", 1, {}, after=[kids[0]], action="watch")
    runner = store.register_runner(2, "background")
    [claimed] = store.claim(runner, 1)
    store.set_priority(kids[2], 5)
    store._sql("UPDATE job SET status='completed', finished_at=1.0 WHERE id=?", (kids[1],))
    assert claimed.id


def test_the_reader_reads_what_the_store_reads(tmp_path):
    lib = Library(tmp_path / "library.db")
    store = Store(lib)
    _fill(store)
    reader = open_reader(lib)
    for kw in ({}, {"recent": 1}, {"statuses": ["queued"]}, {"types": ["index"]}, {"action": "watch"},
               {"limit": 2}, {"before_id": 4, "limit": 10}, {"hosts": ["any"]}, {"ids": [1, 3]}):
        assert reader.list_jobs(**kw) == store.list_jobs(**kw), kw
    recs = store.list_jobs()
    assert reader.waiting(recs) == store.waiting(recs)
    assert reader.host_names() == store.host_names()
    assert reader.runners() == store.runners()
    assert reader.get(1) == store.get(1)
    assert reader.recover_orphans() == []  # its runner (this process) is alive: nothing to write


def test_the_reader_refuses_writes_before_changing_anything(tmp_path):
    lib = Library(tmp_path / "library.db")
    store = Store(lib)
    job = store.submit("copy", 1, {})
    store._sql("UPDATE job SET status='running', runner_id=NULL WHERE id=?", (job,))  # an orphan
    reader = open_reader(lib)
    with pytest.raises(NeedsWriter):
        reader.recover_orphans()
    with pytest.raises(NeedsWriter):
        reader.submit("copy", 1, {})
    with pytest.raises(sqlite3.OperationalError):  # a write outside a transaction: query_only
        reader.set_priority(job, 9)
    assert [(r.status, r.priority) for r in store.list_jobs()] == [("running", 0)]


def test_the_reader_neither_creates_nor_migrates_a_library(tmp_path):
    lib = Library(tmp_path / "new" / "library.db")
    with pytest.raises(NeedsWriter):
        open_reader(lib)
    assert not (tmp_path / "new").exists()
    lib = Library(tmp_path / "old.db")
    Store(lib).close()
    conn = sqlite3.connect(lib.db_path)
    conn.execute("DELETE FROM schema_version")  # as a library made before every component was
    conn.commit()
    conn.close()
    with pytest.raises(NeedsWriter):
        open_reader(lib)
