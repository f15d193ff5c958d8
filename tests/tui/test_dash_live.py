"""The dashboard against a real library, with real jobs in a real runner (a subprocess)."""

from __future__ import annotations

import asyncio

from dash_fixtures import chatty  # noqa: F401  (a fixture)
from waiting import until

from sdjobs.tui.app import DashApp
from sdjobs.tui.screens.confirm import ConfirmScreen
from sdjobs.tui.screens.detail import DetailScreen


def submit(store, job_type: str, config: dict) -> int:
    return store.submit(job_type, 1, config, context={"argv": ["sdjobs", "run", job_type], "user": "test"})


def test_table_follows_a_job_and_p_r_c_steer_it(store, start_runner):
    job = submit(store, "test-steps", {"steps": 400, "delay": 0.03})
    start_runner("--workers", "1")

    async def scenario():
        app = DashApp(store)
        async with app.run_test(size=(100, 30)) as pilot:
            table = app.table
            await until(pilot, lambda: table.view(job) and table.view(job).status == "running", what="running")
            # the table follows the job's progress as the runner writes it
            first = await until(pilot, lambda: table.cell_text(job, "done"), what="progress")
            await until(pilot, lambda: table.cell_text(job, "done") != first, what="progress to move")
            assert table.cell_text(job, "status") == "running"
            assert "steps" in table.cell_text(job, "done") and "%" in table.cell_text(job, "bar")

            # p pauses: the record says paused and the progress stops
            assert table.selected_id == job
            await pilot.press("p")
            await until(pilot, lambda: store.get(job).status == "paused", what="paused record")
            await until(pilot, lambda: table.cell_text(job, "status") == "paused", what="paused row")
            held = store.get(job).progress.done
            shown = table.cell_text(job, "done")
            await pilot.pause(0.8)
            assert store.get(job).progress.done == held
            assert table.cell_text(job, "done") == shown

            # r resumes: running again, from the checkpoint, and moving
            await pilot.press("r")
            await until(pilot, lambda: table.cell_text(job, "status") == "running", what="running again")
            await until(pilot, lambda: (store.get(job).progress.done or 0) > held, what="progress after resume")
            assert store.get(job).status == "running"

            # c asks first; "n" keeps the job; "c" then "y" cancels it
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="no confirmation")
            await pilot.pause(0.3)
            assert store.get(job).status == "running"
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation")
            await pilot.press("y")
            await until(pilot, lambda: store.get(job).status == "cancelled", what="cancelled record")
            await until(pilot, lambda: table.cell_text(job, "status") == "cancelled", what="cancelled row")

    asyncio.run(scenario())


def test_detail_screen_shows_warnings_errors_and_follows_the_log(chatty, store, start_runner):
    job = submit(store, "test-chatty", {"steps": 40, "delay": 0.06})
    start_runner("--workers", "1")

    async def scenario():
        app = DashApp(store)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.table.view(job) is not None, what="the job in the table")
            await pilot.press("enter")
            screen = await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen,
                                 what="detail screen")
            assert screen.job_id == job
            issues = screen.query_one("#issue-list")
            log = screen.query_one("#log-tail")
            await until(pilot, lambda: any("warning" in t and "/fake/warn-5" in t for t in issues.texts()),
                        what="a warning with its path")
            assert any("error" in t and "/fake/err-0" in t and "Input/output error" in t for t in issues.texts())
            assert any("counting to 40" in t for t in log.texts)
            # the log follows live: new lines arrive while the screen is open
            seen = len(log.texts)
            await until(pilot, lambda: len(log.texts) > seen + 3, what="new log lines")
            assert any(t.split()[1:3] == ["log", "line"] for t in log.texts)
            # the overview shows the structured progress, the job's own fields and the action context
            await until(pilot, lambda: store.get(job).status == "completed-with-errors", timeout=30,
                        what="the job to finish")
            await until(pilot, lambda: screen.data and screen.data.view.status == "completed-with-errors",
                        what="the screen to see the end")
            await pilot.press("4")
            await pilot.pause(0.2)
            rendered = _text(screen.query_one("#output-view"))
            assert "1 duplicate groups" in rendered and "/fake/a" in rendered
            await pilot.press("1")  # (the overview is drawn once its tab shows: a message later)
            needles = ("chatting", "40/40 lines", "last", "run test-chatty", "warnings")
            await until(pilot, lambda: all(n in _text(screen.query_one("#info")) for n in needles),
                        what=f"the overview to show {needles}")
            await pilot.press("escape")
            assert not isinstance(app.screen, DetailScreen)

    asyncio.run(scenario())


def _text(widget) -> str:
    """What a Static shows, as plain text."""
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(widget.content)
    return out.getvalue()
