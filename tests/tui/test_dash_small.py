"""The smaller points: ctrl+c quits, toasts read as sentences, the result table takes an iterator,
the header names the library, the monochrome look under NO_COLOR."""

from __future__ import annotations

import asyncio
import itertools

from waiting import until

from sdjobs.tui import format as fmt
from sdjobs.tui.app import DashApp
from sdjobs.tui.widgets.result_table import ResultColumn, ResultTable


def run(app, scenario, size=(100, 30)):
    async def main():
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.loaded, what="the first load")
            await scenario(pilot)

    asyncio.run(main())


def test_ctrl_c_quits(store):
    app = DashApp(store)

    async def scenario(pilot):
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app._exit or not app.is_running

    run(app, scenario)


def test_toasts_read_as_sentences():
    assert fmt.toast("pause", "already paused") == "Already paused."
    assert fmt.toast("pause", "nothing to pause: it is failed") == "Nothing to pause: it is failed."
    assert fmt.toast("resume", "queued to resume") == "Queued to resume."


def test_pausing_a_paused_job_says_so(store):
    job = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
    store._sql("UPDATE job SET status='paused' WHERE id=?", (job,))
    app = DashApp(store)

    async def scenario(pilot):
        await until(pilot, lambda: app.table.row_count == 1, what="the row")
        await pilot.press("p")
        await until(pilot, lambda: app._notifications, what="a toast")
        note = list(app._notifications)[-1]
        assert note.title == f"Pause job {job}" and note.message == "Already paused."

    run(app, scenario)


def test_header_names_the_library(store):
    app = DashApp(store)

    async def scenario(pilot):
        await pilot.pause()
        assert app.library_name == str(store.library.db_path)
        screen = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert str(store.library.db_path)[-40:] in screen

    run(app, scenario, size=(120, 30))


def test_result_table_takes_the_first_rows_of_an_iterator(store):
    app = DashApp(store)
    columns = [ResultColumn("severity", "SEVERITY", "severity"), ResultColumn("path", "PATH", "path")]
    rows = ({"severity": "warning", "path": f"/srv/archive/deep/folder/file-{n:06d}.tif"} for n in itertools.count())

    async def scenario(pilot):
        table = ResultTable(limit=100)
        await app.screen.mount(table)
        table.load(columns, rows)   # an endless iterator: only the first 100 are taken
        await pilot.pause()
        assert table.row_count == 100 and table.total is None
        assert all(line.endswith(".tif") for line in table.shown_texts())   # paths keep their file name
        assert table.selected_row["path"].endswith("file-000000.tif")

    run(app, scenario, size=(40, 30))


def test_monochrome_under_no_color(store, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = DashApp(store)
    try:
        assert app.theme == "sdjobs-mono" and app.has_class("-mono")
        assert "red" not in fmt.status_text("failed").style and "reverse" in str(fmt.status_text("failed").style)
    finally:
        fmt.set_monochrome(False)
