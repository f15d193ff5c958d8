"""Locations belong to a host (issue 18): a path is unique per host, lookups by path see only
this host's locations, and a library made before hosts keeps every entry when it migrates."""

from __future__ import annotations

import pytest

from sdjobs.store import index_store as ixs
from sdjobs.store.api import Store
from sdjobs.store.library import Library
from sdjobs.store.schema import index as index_schema


def _values(paths: list[bytes]) -> list:
    out: list = []
    for i, p in enumerate(paths):
        out += (p, p.rsplit(b"/", 1)[1], "file", 10 + i, 1000 + i, 7, 0o100644, 10**18 + i)
    return out


def _location(store, path: str) -> int:
    return ixs.create_location(store, path, rules={}, mode="content", max_depth=None, recurse=True, now=0.0)


def test_the_same_path_on_two_hosts_is_two_locations(store, monkeypatch, tmp_path):
    root = str(tmp_path / "data")
    monkeypatch.setenv("SDJOBS_HOST", "a")
    a = _location(store, root)
    with store._transaction():
        ixs.write_entries(store, a, _values([f"{root}/x".encode()]))
    monkeypatch.setenv("SDJOBS_HOST", "b")
    assert ixs.find_location(store, root) is None          # a's location is not b's path
    assert list(ixs.entries_under(store, root)) == []
    assert ixs.entry_at(store, f"{root}/x") is None
    b = _location(store, root)                              # no clash with a's
    with store._transaction():
        ixs.write_entries(store, b, _values([f"{root}/y".encode()]))
    assert ixs.find_location(store, f"{root}/y").id == b
    assert [e.path for e in ixs.entries_under(store, root)] == [f"{root}/y"]
    assert ixs.nested_locations(store, str(tmp_path)) == [ixs.get_location(store, b)]
    assert [(loc.host, loc.path) for loc in ixs.list_locations(store)] == [("a", root), ("b", root)]
    assert [loc.id for loc in ixs.list_locations(store, host="a")] == [a]
    monkeypatch.setenv("SDJOBS_HOST", "a")
    assert [e.path for e in ixs.entries_under(store, root)] == [f"{root}/x"]
    with pytest.raises(Exception, match="UNIQUE"):          # still unique on one host
        _location(store, root)


def test_a_library_from_before_hosts_keeps_its_locations_and_entries(tmp_path, monkeypatch):
    """Version 3 of the index schema, with entries and a removed location; migrated on host m."""
    db = tmp_path / "lib" / "library.db"
    monkeypatch.setattr(index_schema, "MIGRATIONS", index_schema.MIGRATIONS[:3])
    old = Store(Library(db))
    try:
        for i, path in enumerate((b"/old/one", b"/old/gone", b"/old/two")):
            old._sql("INSERT INTO location (path, created_at) VALUES (?, ?)", (path, float(i)))
        old._sql("DELETE FROM location WHERE path=?", (b"/old/gone",))
        with old._transaction():
            ixs.write_entries(old, 1, _values([b"/old/one/a", b"/old/one/b"]))
            ixs.write_entries(old, 3, _values([b"/old/two/c"]))
        old._sql("INSERT INTO index_run (job_id, location_id, root, phase, started_at) VALUES (5, 3, ?, 'x', 0)",
                 (b"/old/two",))
    finally:
        old.close()
    monkeypatch.undo()
    monkeypatch.setenv("SDJOBS_HOST", "m")
    store = Store(Library(db))
    try:
        assert [(loc.id, loc.host, loc.path) for loc in ixs.list_locations(store)] == \
            [(1, "m", "/old/one"), (3, "m", "/old/two")]
        assert store._sql("SELECT location_id, path FROM entry ORDER BY path").fetchall() == \
            [(1, b"/old/one/a"), (1, b"/old/one/b"), (3, b"/old/two/c")]
        assert store._sql("SELECT location_id FROM index_run").fetchall() == [(3,)]
        assert store._sql("PRAGMA foreign_key_check").fetchall() == []
        assert store._sql("PRAGMA foreign_keys").fetchone() == (1,)
        assert _location(store, "/new") == 4               # the id of the removed location is not given again
        ixs.remove_location(store, 1)                       # the cascade still points at the new table
        assert store._sql("SELECT count(*) FROM entry").fetchone() == (1,)
        monkeypatch.setenv("SDJOBS_HOST", "other")
        assert _location(store, "/old/two") == 5
    finally:
        store.close()


class _PgConn:
    """What ``store/pg/schema.py`` hands a callable step on PostgreSQL: qmark SQL, a dialect."""

    dialect = "postgres"

    def __init__(self, raw) -> None:
        self.raw = raw

    def execute(self, query: str, params=()):
        return self.raw.execute(query.replace("?", "%s"), params)


def test_the_postgresql_form_of_the_migration(postgres_url, monkeypatch):
    """Version 3's location table (as the SQLite script reads in PostgreSQL's types) with rows
    and an entry pointing at one; after the step: this host's, unique per host, nothing lost."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as raw:
        raw.execute("CREATE TABLE location (id SERIAL PRIMARY KEY, path BYTEA NOT NULL UNIQUE,"
                    " created_at DOUBLE PRECISION NOT NULL)")
        raw.execute("CREATE TABLE entry (id SERIAL PRIMARY KEY, location_id INTEGER NOT NULL"
                    " REFERENCES location(id) ON DELETE CASCADE, path BYTEA NOT NULL)")
        raw.execute("INSERT INTO location (path, created_at) VALUES (%s, 0), (%s, 0)", (b"/one", b"/two"))
        raw.execute("INSERT INTO entry (location_id, path) VALUES (1, %s)", (b"/one/x",))
        monkeypatch.setenv("SDJOBS_HOST", "m")
        with raw.transaction():
            index_schema.MIGRATIONS[3](_PgConn(raw))
        assert raw.execute("SELECT id, host, path FROM location ORDER BY id").fetchall() == \
            [(1, "m", b"/one"), (2, "m", b"/two")]
        assert raw.execute("SELECT location_id FROM entry").fetchall() == [(1,)]
        raw.execute("INSERT INTO location (host, path, created_at) VALUES ('other', %s, 0)", (b"/one",))
        with pytest.raises(psycopg.errors.UniqueViolation):
            raw.execute("INSERT INTO location (host, path, created_at) VALUES ('m', %s, 0)", (b"/one",))
        with pytest.raises(psycopg.errors.NotNullViolation):  # no default: every location names its host
            raw.execute("INSERT INTO location (path, created_at) VALUES (%s, 0)", (b"/three",))
