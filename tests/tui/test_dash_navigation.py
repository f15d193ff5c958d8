"""Finding a job in a big history: the cursor stays on screen and highlighted, search reaches every job,
go-to, sort, nested children, follow-new."""

from __future__ import annotations

import asyncio
import time

import pytest
from waiting import until

from sdjobs.core import codec
from sdjobs.tui.app import DashApp
from sdjobs.tui.screens.detail import DetailScreen
from sdjobs.tui.widgets.job_table import CURSOR


def history(store, n: int, *, failed_every: int = 0) -> list[int]:
    """``n`` finished copy jobs, oldest first, in one transaction (fast)."""
    now = time.time()
    rows = []
    for i in range(n):
        failed = failed_every and i % failed_every == 0
        t = now - (n - i) * 60
        rows.append(("copy", 1, "failed" if failed else "completed",
                     codec.pack({"sources": [f"/data/set-{i}/photos"], "dest": f"/mnt/b/set-{i}"}), t, t, t, t,
                     codec.pack({"argv": ["sdjobs", "copy", f"set-{i}", "/mnt/b"]}), codec.pack({}),
                     f"disk full on set-{i}" if failed else None))
    with store._transaction():
        store._db.cursor().executemany(
            "INSERT INTO job (type, type_version, status, config, created_at, updated_at, started_at, finished_at,"
            " context, settings, error) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    return [r[0] for r in store._sql("SELECT id FROM job ORDER BY id")]


def run(app, scenario, size=(100, 30)):
    async def main():
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.loaded and app.table.row_count, what="the first load")
            await scenario(pilot)

    asyncio.run(main())


def cursor_drawn(table) -> bool:
    """The highlighted row is on screen and drawn in reverse video."""
    if not table.cursor_on_screen():
        print("off screen", table.cursor, table.scroll_offset, table.visible_rows, table.max_scroll_y)
        return False
    y = table.cursor - round(table.scroll_offset.y) + 1
    strip = table.render_line(y)
    return any(seg.style and seg.style.reverse for seg in strip) and y < table.scrollable_content_region.height


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (130, 40)])
def test_end_on_1000_jobs_keeps_the_highlighted_row_on_screen(store, size):
    ids = history(store, 1000)
    app = DashApp(store)

    async def scenario(pilot):
        table = app.table
        await until(pilot, lambda: table.row_count == 1000, what="1,000 rows")
        assert cursor_drawn(table), "highlighted at start-up"
        await pilot.press("end")
        await pilot.pause()
        assert table.selected_id == ids[0]   # the oldest: history is newest first
        await until(pilot, lambda: cursor_drawn(table), timeout=2, what="the last row on screen")
        region = table.scrollable_content_region
        assert round(table.scroll_offset.y) + table.visible_rows >= 1000 and region.height >= 2
        await pilot.press("pageup", "up", "home")
        await pilot.pause()
        assert table.selected_id == ids[-1] and cursor_drawn(table)
        await pilot.press("question_mark")
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is table and cursor_drawn(table), "highlighted after closing help"

    run(app, scenario, size)


def test_search_reaches_old_failures_beyond_the_window(store):
    ids = history(store, 1500, failed_every=700)   # failures at 0, 700, 1400: job 1 is 1,500 jobs old
    app = DashApp(store)

    async def scenario(pilot):
        table = app.table
        await until(pilot, lambda: table.row_count == 1000, what="the newest 1,000")
        assert table.view(ids[0]) is None
        await pilot.press("slash", *"set-0/", "enter")
        await until(pilot, lambda: table.row_count == 1 and table.view(ids[0]) is not None, what="the old job")
        assert "disk full on set-0" in table.cell_text(ids[0], "what")  # the reason, in the row
        await pilot.press("slash", "escape")
        while app.status_filter != "failed":
            await pilot.press("s")
        await until(pilot, lambda: table.row_count == 3, what="every failure of the library")
        assert {ids[0], ids[700], ids[1400]} == {table._order[i] for i in range(3)}

    run(app, scenario)


def test_go_to_an_id_selects_it_or_opens_it(store):
    ids = history(store, 1200)
    app = DashApp(store)

    async def scenario(pilot):
        table = app.table
        await until(pilot, lambda: table.row_count == 1000, what="rows")
        await pilot.press("number_sign", *str(ids[-5]), "enter")
        assert table.selected_id == ids[-5] and cursor_drawn(table)
        await pilot.press("number_sign", *str(ids[3]), "enter")   # not in the table: its details open
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), what="details")
        assert app.screen.job_id == ids[3]

    run(app, scenario)


def test_children_nest_under_their_parent_and_fold(store):
    parent = store.submit("index", 1, {"path": "/home"})
    other = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
    kids = [store.submit("thumbs", 1, {"paths": [f"/home/{n}"]}, parent_id=parent) for n in "xy"]
    app = DashApp(store)

    async def scenario(pilot):
        table = app.table
        await until(pilot, lambda: table.row_count == 4, what="rows")
        assert table._order == [parent, *kids, other]
        assert table.cell_text(kids[0], "what").startswith("└ /home/x")
        table.select(kids[1])
        await pilot.press("space")   # folds the parent of the selected child
        await until(pilot, lambda: table.row_count == 2, what="folded")
        assert table.selected_id == parent
        await pilot.press("space")
        await until(pilot, lambda: table.row_count == 4, what="unfolded")

    run(app, scenario)


def test_follow_new_jobs_moves_the_cursor_to_each_new_job(store):
    first = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
    store.submit("copy", 1, {"sources": ["/c"], "dest": "/d"})
    app = DashApp(store)

    async def scenario(pilot):
        table = app.table
        await until(pilot, lambda: table.row_count == 2, what="rows")
        table.select(first)
        await pilot.press("f")
        newest = store.submit("copy", 1, {"sources": ["/e"], "dest": "/f"}, priority=-5)  # sorts last
        await until(pilot, lambda: table.selected_id == newest, what="the cursor on the new job")
        assert cursor_drawn(table)

    run(app, scenario)


def test_cursor_style_is_reverse_video():
    assert CURSOR.reverse
