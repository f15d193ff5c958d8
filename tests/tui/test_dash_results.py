"""A finished job's result in its details: a validate job's issues in the Issues tab, a dupes
job's groups in the Output tab, read from the library as `sdjobs jobs output` reads them."""

from __future__ import annotations

import asyncio
import json

from waiting import until

from sdjobs.store import results
from sdjobs.tui.app import DashApp
from sdjobs.tui.screens.detail import DetailScreen


def finished(store, job_type: str, name: str, rows: list[dict]) -> int:
    job = store.submit(job_type, 1, {})
    store._sql("UPDATE job SET status='completed-with-errors', finished_at=created_at WHERE id=?", (job,))
    results.append(store, job, [(json.dumps(r, separators=(",", ":")), r.get("size"), r.get("severity"))
                                for r in rows], start=0, columns=list(rows[0]), name=name)
    return job


def details(store, job: int, tab: str, check) -> None:
    app = DashApp(store)

    async def main():
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.loaded and app.table.view(job) is not None, what="the job")
            app.table.select(job)
            await pilot.press("enter")
            screen = await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded
                                 and app.screen, what="details")
            await pilot.press({"issues": "2", "output": "4"}[tab])
            table = await until(pilot, lambda: (t := screen.query_one(f"#{'issue' if tab == 'issues' else 'output'}"
                                                                        "-results")).display and t.rows_given and t,
                                what="the result rows")
            check(screen, table)

    asyncio.run(main())


def test_a_validate_jobs_issues_are_in_the_issues_tab(store):
    rows = [{"kind": "corrupt", "severity": "critical", "path": "/photos/2023/IMG_0001.jpg",
             "message": "truncated JPEG", "action": "restore it from a backup"},
            {"kind": "modified", "severity": "warning", "path": "/photos/2023/IMG_0002.jpg",
             "message": "content changed since the index", "action": "re-index"}]
    job = finished(store, "validate", "issues", rows)

    def check(screen, table):
        shown = table.texts()
        assert len(shown) == 2 and "IMG_0001.jpg" in shown[0] and "critical" in shown[0], shown
        assert "restore it from a backup" in shown[0]
        note = str(screen.query_one("#issues-note").content)
        assert "2 issues" in note and f"sdjobs jobs output {job}" in note, note

    details(store, job, "issues", check)


def test_a_dupes_jobs_groups_are_in_the_output_tab(store):
    rows = [{"size": 4096, "hash": "ab" * 16, "wasted": 8192, "paths": ["/a/x.jpg", "/b/x.jpg", "/c/x.jpg"]},
            {"size": 10, "hash": "cd" * 16, "wasted": 10, "paths": ["/a/y", "/b/y"]}]
    job = finished(store, "dupes", "groups", rows)

    def check(screen, table):
        shown = table.texts()
        assert len(shown) == 2 and "/c/x.jpg" in shown[0] and "8,192" in shown[0], shown

    details(store, job, "output", check)


def test_y_copies_the_selected_path_or_the_job_id(store):
    rows = [{"kind": "corrupt", "severity": "error", "path": "/photos/a b/IMG_0001.jpg", "message": "bad",
             "action": "restore"}]
    job = finished(store, "validate", "issues", rows)

    def check(screen, table):
        screen.action_copy()
        assert screen.app.clipboard == "/photos/a b/IMG_0001.jpg"
        screen._result_rows.clear()  # no row under the cursor: the job's id
        screen.action_copy()
        assert screen.app.clipboard == str(job)

    details(store, job, "issues", check)
