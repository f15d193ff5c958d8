"""On a PostgreSQL library the dashboard sleeps until a NOTIFY says the job plane changed
(``Store.wait_changed``) instead of polling: a job submitted by another client shows at once,
even with a polling interval far longer than the wait."""

from __future__ import annotations

import asyncio
import time



def test_the_dashboard_is_woken_by_notify(postgres_url):
    from sdjobs.store.open import open_store
    from sdjobs.tui.app import DashApp

    store, other = open_store(postgres_url), open_store(postgres_url)
    assert store.woken_by_changes

    async def scenario() -> float:
        app = DashApp(store, interval=8.0)  # polling alone would show the job after 8 s
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause(1.0)  # the watcher has read the empty library and sleeps
            start = time.monotonic()
            job_id = other.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
            while not app.table.view(job_id):
                assert time.monotonic() - start < 4, "the dashboard did not wake up for the new job"
                await pilot.pause(0.05)
            return time.monotonic() - start

    try:
        asyncio.run(scenario())
    finally:
        other.close()
        store.close()
