"""Snapshots of the dashboard at 80x24, 100x30 and 200x50, in colour and under NO_COLOR
(pytest-textual-snapshot).

The library has fixed content and timestamps (tests/tui/fixed_library.py): running, failed, paused,
queued-after and child jobs. The app gets a frozen clock, a fixed view of the installed job types and a
fixed library name, and the time zone is UTC: the screens are the same on every machine. After a
deliberate change of the layout: pytest tests/tui --snapshot-update, and look at the SVGs.
"""

from __future__ import annotations

import pytest
from dash_fixtures import fixed  # noqa: F401  (a fixture)
from waiting import until

import fixed_library
from sdjobs.tui.app import DashApp
from sdjobs.tui.screens.detail import DetailScreen
from sdjobs.tui.widgets.result_table import ResultColumn

SIZES = [(80, 24), (100, 30), (200, 50)]
COLOURS = ["colour", "NO_COLOR"]
RUNNING_COPY = 8  # the running copy job of the fixed library: progress, warnings, errors, a log
FAILED_COPY = 4
VALIDATE = 3
ROWS = 10
LIBRARY = "/home/ana/.local/share/sdjobs/library.db"

# the rows `sdjobs jobs output 3` gives for the validate job (built here until that store lands)
ISSUE_COLUMNS = [ResultColumn("severity", "SEVERITY", "severity"), ResultColumn("kind", "KIND", width=14),
                 ResultColumn("path", "PATH", "path"), ResultColumn("action", "SUGGESTED ACTION")]
ISSUE_ROWS = [
    {"severity": "critical", "kind": "hash-changed", "path": "/srv/archive/2019/scans/batch-07/scan-004.tif",
     "action": "restore from backup: content changed with the same size and mtime"},
    {"severity": "error", "kind": "unreadable", "path": "/srv/archive/2020/Photos/2020-08 holiday/IMG_2231.CR2",
     "action": "check the disk: read error at byte 1,048,576"},
    {"severity": "warning", "kind": "empty-file", "path": "/srv/archive/notes.txt",
     "action": "delete it or restore it"},
]


def app_for(store, job=None) -> DashApp:
    return DashApp(store, now=fixed_library.NOW, lookup=fixed_library.lookup, job=job, library=LIBRARY)


async def loaded(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.loaded and (app.open_job is not None or app.table.row_count == ROWS),
                what="the table")
    if app.open_job is not None:
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded, what="details")
    await pilot.pause()


async def validate_issues(pilot) -> None:
    await loaded(pilot)
    pilot.app.screen.show_results("issues", ISSUE_COLUMNS, iter(ISSUE_ROWS), note="1 critical, 1 error, 1 warning")
    await pilot.press("2")
    await pilot.pause()


@pytest.fixture(params=COLOURS)
def colours(request, monkeypatch):
    if request.param == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")
    return request.param


def size_id(s) -> str:
    return f"{s[0]}x{s[1]}"


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_main_view(fixed, colours, snap_compare, size):
    assert snap_compare(app_for(fixed), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_failed_job_details(fixed, colours, snap_compare, size):
    assert snap_compare(app_for(fixed, job=FAILED_COPY), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_validate_issues_tab(fixed, colours, snap_compare, size):
    assert snap_compare(app_for(fixed, job=VALIDATE), terminal_size=size, run_before=validate_issues)


def test_running_job_details(fixed, snap_compare):
    assert snap_compare(app_for(fixed, job=RUNNING_COPY), terminal_size=(100, 30), run_before=loaded)


def test_running_job_issues_tab(fixed, snap_compare):
    assert snap_compare(app_for(fixed, job=RUNNING_COPY), terminal_size=(80, 24), run_before=loaded, press=["2"])


def test_validate_output(fixed, snap_compare):
    assert snap_compare(app_for(fixed, job=VALIDATE), terminal_size=(80, 24), run_before=loaded, press=["4"])


def test_confirm_dialog(fixed, colours, snap_compare):
    async def ask(pilot):
        await loaded(pilot)
        pilot.app.table.select(RUNNING_COPY)
        await pilot.press("c")
        await pilot.pause()

    assert snap_compare(app_for(fixed), terminal_size=(80, 24), run_before=ask)


def test_help(fixed, snap_compare):
    assert snap_compare(app_for(fixed), terminal_size=(100, 40), run_before=loaded, press=["question_mark"])
