"""The dashboard on awkward libraries: empty, unknown job types, malformed records,
jobs pruned under it; and the keys that need no runner (filters, priority, retry)."""

from __future__ import annotations

import asyncio

from dash_fixtures import fixed  # noqa: F401  (a fixture)
from waiting import until

from sdjobs.core import codec
from sdjobs.tui.app import DashApp
from sdjobs.tui.screens.detail import DetailScreen
from sdjobs.tui.screens.help import HelpScreen
from sdjobs.tui.widgets.empty_notice import EmptyNotice


def run(app, scenario, size=(80, 24)):
    async def main():
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.loaded, what="the first load")
            await scenario(pilot)

    asyncio.run(main())


def test_empty_library_explains_itself_and_keys_do_not_crash(store):
    app = DashApp(store)

    async def scenario(pilot):
        notice = app.query_one(EmptyNotice)
        assert notice.display and "No jobs in this library" in str(notice.content)
        for key in ("p", "r", "c", "R", "plus", "minus", "s", "h", "enter", "question_mark"):
            await pilot.press(key)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        # a job submitted from elsewhere appears without any key press
        job = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
        await pilot.press("s", "s", "s", "s", "s", "s", "s", "s", "h")  # back to all statuses, history on
        await until(pilot, lambda: app.table.view(job) is not None, what="the new job")
        assert not notice.display

    run(app, scenario)


def test_unknown_types_and_malformed_records_are_shown_as_far_as_they_go(store):
    good = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"}, context={"argv": ["sdjobs", "copy", "a", "b"]})
    plugin = store.submit("photo-sort", 1, {"root": "/p"}, context={"argv": ["sdjobs", "run", "photo-sort"]})
    bad_progress = store.submit("copy", 1, {})
    store._sql("UPDATE job SET progress=X'c1c1' WHERE id=?", (bad_progress,))  # not msgpack at all
    odd_context = store.submit("copy", 1, {}, context={"argv": 42})
    store._sql("UPDATE job SET context=? WHERE id=?", (codec.pack([1, 2, 3]), odd_context))
    odd_output = store.submit("copy", 1, {})
    store._sql("UPDATE job SET status='completed', finished_at=created_at, output=?, progress=? WHERE id=?",
              (codec.pack({"weird": [[1, {"x": b"\xff"}], None]}), codec.pack({"done": "many"}), odd_output))
    app = DashApp(store)

    async def scenario(pilot):
        table = app.table
        await until(pilot, lambda: all(table.view(j) for j in (good, plugin, bad_progress, odd_context, odd_output)),
                    what="every job in the table")
        assert table.cell_text(plugin, "type") == "photo-sort?"
        assert table.cell_text(good, "type") == "copy"
        assert table.view(bad_progress).problem and table.cell_text(bad_progress, "phase") == "unreadable"
        assert table.cell_text(bad_progress, "status") == "queued"
        assert table.view(odd_output).status == "completed"
        for job_id, needle in ((plugin, "not installed here"), (bad_progress, "unreadable record")):
            table.select(job_id)
            await pilot.press("enter")
            screen = await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded
                                 and app.screen, what="details")
            assert needle in _plain(screen.query_one("#info").content)
            await pilot.press("escape")
        table.select(odd_output)
        await pilot.press("enter")
        screen = await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded
                             and app.screen, what="details")
        await pilot.press("4")
        assert "weird" in _plain(screen.query_one("#output-view").content)

    run(app, scenario, size=(120, 40))


def test_filters_history_priority_and_retry(store):
    queued = store.submit("copy", 1, {"sources": ["/music"], "dest": "/b"},
                          context={"argv": ["sdjobs", "copy", "/music", "/b"]})
    failed = store.submit("copy", 1, {"sources": ["/films"], "dest": "/b"},
                          context={"argv": ["sdjobs", "copy", "/films", "/b"]})
    store._sql("UPDATE job SET status='failed', finished_at=created_at, error='disk full' WHERE id=?", (failed,))
    done = store.submit("copy", 1, {})
    store._sql("UPDATE job SET status='completed', finished_at=created_at WHERE id=?", (done,))
    app = DashApp(store)

    def shown():
        return [v.id for v in app.visible_jobs()]

    async def scenario(pilot):
        await until(pilot, lambda: app.table.row_count == 3, what="three rows")
        assert shown() == [queued, done, failed]  # active first, then history newest first
        await pilot.press("h")
        await until(pilot, lambda: app.table.row_count == 1, what="history hidden")
        await pilot.press("h", "s")  # history back; status filter: the first status a job has (no running job)
        assert app.status_filter == "queued" and shown() == [queued]
        seen = [app.status_filter]
        while app.status_filter != "failed":
            await pilot.press("s")
            seen.append(app.status_filter)
        assert seen == ["queued", "failed"] and shown() == [failed]  # empty statuses are skipped
        await until(pilot, lambda: app.table.row_count == 1, what="the store's answer")
        while app.status_filter is not None:
            await pilot.press("s")
        await pilot.press("slash", *"films", "enter")
        assert shown() == [failed] and app.table.row_count == 1
        assert app.table.selected_id == failed
        await pilot.press("R")  # retry the failed job
        await until(pilot, lambda: store.get(failed).status == "queued", what="retried")
        await pilot.press("slash", "escape")
        assert app.text_filter == "" and app.table.row_count == 3
        app.table.select(queued)
        await pilot.press("plus", "plus", "plus", "minus")
        await until(pilot, lambda: store.get(queued).priority == 2, what="priority 2")
        await until(pilot, lambda: app.table.view(queued).priority == 2, what="the table to see it")

    run(app, scenario)


def test_a_job_whose_runner_dies_shows_as_interrupted(store, monkeypatch):
    """The dashboard recovers orphans as `jobs ls` does, and shows its own change at once."""
    import sdjobs.tui.app as dash

    monkeypatch.setattr(dash, "RECOVER_EVERY", 0.3)
    job = store.submit("copy", 1, {})
    runner = store.register_runner(1, "foreground")  # this process: alive
    store._sql("UPDATE job SET status='running', runner_id=? WHERE id=?", (runner, job))
    app = DashApp(store)

    async def scenario(pilot):
        await until(pilot, lambda: app.table.view(job) and app.table.view(job).status == "running", what="running")
        store._sql("UPDATE runner SET pid=?, pid_start=NULL WHERE id=?", (2**22 + 12345, runner))  # it died
        await until(pilot, lambda: app.table.view(job).status == "interrupted", timeout=5, what="interrupted")
        assert store.get(job).status == "interrupted"

    try:
        run(app, scenario)
    finally:  # never leave this process registered as a runner: teardown would stop it
        store.unregister_runner(runner)


def test_detail_of_a_job_pruned_while_open(store):
    job = store.submit("copy", 1, {})
    store._sql("UPDATE job SET status='completed', finished_at=1 WHERE id=?", (job,))
    app = DashApp(store, job=job)

    async def scenario(pilot):
        screen = await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded
                             and app.screen, what="details")
        assert store.prune(older_than=0).jobs == 1
        await until(pilot, lambda: screen.data.gone, what="the screen to notice")
        assert "no longer in the library" in _plain(screen.query_one("#detail-title").content)
        await until(pilot, lambda: app.table.row_count == 0, what="the table to drop it")

    run(app, scenario)


def test_detail_shows_context_fields_parent_and_children(fixed):
    import fixed_library

    app = DashApp(fixed, now=fixed_library.NOW, lookup=fixed_library.lookup, job=6)

    async def scenario(pilot):
        screen = await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded
                             and app.screen, what="details")
        info = _plain(screen.query_one("#info").content)
        for needle in ("walking", "52,000 files", "dirs", "4,100", "/home/ana/src/linux/fs",  # progress, fields
                       "index /home/ana --thumbs", "ana on desk", "2023-11-14 21:13:20",    # action context
                       "7 thumbs queued", "Index a tree"):                                  # child, type
            assert needle in info, needle
        await pilot.press("escape")
        # back on the table before the Enter (under load the Enter reached the detail screen still up)
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), what="the table")
        app.table.select(7)
        await pilot.press("enter")
        screen = await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.job_id == 7
                             and app.screen.loaded and app.screen, what="the child")
        info = _plain(screen.query_one("#info").content)
        assert "6 index running" in info and "child of job 6" in info

    run(app, scenario, size=(120, 40))


def _plain(renderable) -> str:
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(renderable)
    return out.getvalue()
