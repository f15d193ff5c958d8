"""Snapshots of the main and detail views at 80x24 and 120x40 (pytest-textual-snapshot).

The library has fixed content and timestamps (tests/tui/fixed_library.py), the
app gets a frozen clock and a fixed view of the installed job types, and the
time zone is UTC: the screens are the same on every machine. After a deliberate
change of the layout: pytest tests/tui --snapshot-update, and look at the SVGs.
"""

from __future__ import annotations

import pytest
from dash_fixtures import fixed  # noqa: F401  (a fixture)
from waiting import until

import fixed_library
from sdjobs.tui.app import DashApp
from sdjobs.tui.screens.detail import DetailScreen

SIZES = [(80, 24), (120, 40)]
RUNNING_COPY = 8  # the running copy job of the fixed library: progress, warnings, errors, a log


def app_for(store, job=None) -> DashApp:
    return DashApp(store, now=fixed_library.NOW, lookup=fixed_library.lookup, job=job)


async def loaded(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.loaded and app.table.row_count == 9, what="the table")
    if app.open_job is not None:
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.loaded, what="details")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_view(fixed, snap_compare, size):
    assert snap_compare(app_for(fixed), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_detail_view(fixed, snap_compare, size):
    assert snap_compare(app_for(fixed, job=RUNNING_COPY), terminal_size=size, run_before=loaded)


def test_detail_issues_tab(fixed, snap_compare):
    assert snap_compare(app_for(fixed, job=RUNNING_COPY), terminal_size=(80, 24), run_before=loaded, press=["2"])


def test_validate_output(fixed, snap_compare):
    assert snap_compare(app_for(fixed, job=3), terminal_size=(80, 24), run_before=loaded, press=["4"])
