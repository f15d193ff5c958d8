"""The man page lists job statuses, the dashboard's keys and exit codes, with right synopses."""

from __future__ import annotations

from pathlib import Path

from sdjobs.core.status import Status
from sdjobs.tui.screens.help import DASH_KEYS

PAGE = (Path(__file__).resolve().parents[2] / "man" / "sdjobs.1").read_text()


def section(name: str) -> str:
    return PAGE.split(f".SH {name}")[1].split("\n.SH ")[0]


def roff(text: str) -> str:
    return text.replace("\\", "\\e").replace("-", "\\-")


def test_statuses_and_dashboard_keys_are_listed():
    statuses = section("JOB STATUSES")
    for s in Status:
        assert f"\\fB{roff(s.value)}\\fR" in statuses
    keys = section("DASHBOARD KEYS")
    ascii_ = str.maketrans({"↑": "Up", "↓": "Down", "←": "Left", "→": "Right", "…": "..."})
    for key, what in DASH_KEYS:
        assert f"\\fB{roff(key.translate(ascii_))}\\fR" in keys and roff(what.translate(ascii_)) in keys
    assert "\\fB0\\fR" in section("EXIT STATUS")


def test_synopses_say_what_the_commands_take():
    assert '.SS "sdjobs copy [OPTIONS] SRC... DST"' in PAGE          # not "SRC... DST..."
    assert '.SS "sdjobs runner [OPTIONS] [COMMAND [ARGS]...]"' in PAGE  # runs without a subcommand
    assert '.SS "sdjobs jobs pause [OPTIONS] ID..."' in PAGE
