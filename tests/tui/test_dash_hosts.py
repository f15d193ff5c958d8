"""The dashboard's jobs table on a library shared by several hosts: a HOST column, shown only
once there is more than one host (a library used from one machine looks as it always did)."""

from __future__ import annotations

import asyncio

from waiting import until

from sdjobs.store import hosts
from sdjobs.tui.app import DashApp


def submit(store, host: str | None = None) -> int:
    return store.submit("test-steps", 1, {}, context={"argv": ["sdjobs", "run", "test-steps"], "user": "t"},
                        host=host)


def shown(store):
    app = DashApp(store)
    found = {}

    async def main():
        async with app.run_test(size=(120, 20)) as pilot:
            await until(pilot, lambda: app.loaded, what="the first load")
            found["columns"] = app.table.shown_columns
            found["cells"] = {j: app.table.cell_text(j, "host") for j in app.table._order}

    asyncio.run(main())
    return found


def test_one_host_no_host_column(store, monkeypatch):
    monkeypatch.setenv("SDJOBS_HOST", "a")
    submit(store)
    assert "host" not in shown(store)["columns"]


def test_jobs_of_several_hosts_show_where_they_run(store, monkeypatch):
    monkeypatch.setenv("SDJOBS_HOST", "a")
    with store._transaction():
        hosts.register(store, 1.0, "a", "alpha", [])
        hosts.register(store, 1.0, "b", "bravo", [])
    mine, theirs, anyone = submit(store), submit(store, "b"), submit(store, "any")
    seen = shown(store)
    assert "host" in seen["columns"]
    assert seen["cells"] == {mine: "alpha", theirs: "bravo", anyone: "any"}
