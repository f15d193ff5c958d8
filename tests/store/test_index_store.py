"""The indexer's bulk writes: flat values in, the same rows out."""

import pytest

from sdjobs.core.errors import NotFound
from sdjobs.store import index_store as ixs


def values(n: int, start: int = 0) -> list:
    out: list = []
    for i in range(start, start + n):
        name = b"f%05d-\xff" % i
        out += (b"/t/" + name, name, "file" if i % 3 else "dir", i, 1000 + i, 7, 0o100644, 10**18 + i)
    return out


def stored(store, table: str, key: str, key_value: int) -> list[tuple]:
    return store._sql(f"SELECT {ixs.ROW_COLS} FROM {table} WHERE {key}=? ORDER BY path", (key_value,)).fetchall()


@pytest.mark.parametrize("n", [0, 1, 127, 128, 129, 300])
def test_write_entries_and_stage_values_store_every_row(store, n):
    loc = ixs.create_location(store, "/t", rules={}, mode="shallow", max_depth=None, recurse=True, now=0.0)
    flat = values(n)
    rows = [tuple(flat[i:i + 8]) for i in range(0, len(flat), 8)]
    with store._transaction():
        ixs.write_entries(store, loc, flat)
        ixs.stage_values(store, 99, flat)
    assert stored(store, "entry", "location_id", loc) == rows
    assert stored(store, "index_scan", "job_id", 99) == rows


def test_write_entries_again_updates_in_place(store):
    loc = ixs.create_location(store, "/t", rules={}, mode="shallow", max_depth=None, recurse=True, now=0.0)
    with store._transaction():
        ixs.write_entries(store, loc, values(200))
    newer = values(200)
    newer[3::8] = [s + 1 for s in newer[3::8]]
    with store._transaction():
        ixs.write_entries(store, loc, newer)
    assert stored(store, "entry", "location_id", loc) == [tuple(newer[i:i + 8]) for i in range(0, len(newer), 8)]


def test_write_entries_refuses_a_location_that_is_gone(store):
    """The writer's connection skips the per-row foreign-key lookup: the batch checks instead."""
    loc = ixs.create_location(store, "/t", rules={}, mode="shallow", max_depth=None, recurse=True, now=0.0)
    ixs.bulk_connection(store)
    ixs.remove_location(store, loc)
    with pytest.raises(NotFound):
        with store._transaction():
            ixs.write_entries(store, loc, values(10))
    assert store._sql("SELECT count(*) FROM entry").fetchone()[0] == 0
