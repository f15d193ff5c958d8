"""The `?` screen: every key, and where the dashboard gets its data."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("Jobs", (
        ("↑ ↓ PgUp PgDn", "move"), ("enter", "details of the job"), ("p", "pause (it checkpoints first)"),
        ("r", "resume a paused or interrupted job"), ("c", "cancel (asks first)"),
        ("R", "retry a failed, cancelled or completed-with-errors job"), ("+ / -", "raise / lower priority"),
    )),
    ("View", (
        ("/", "filter by text (id, type, status, phase, command)"), ("s", "cycle the status filter"),
        ("h", "show or hide the history"), ("?", "this help"), ("q", "quit"),
    )),
    ("Details", (
        ("1 2 3 4", "overview, issues, log, output"), ("escape", "back to the table"),
        ("p r c R + -", "act on this job"),
    )),
)


def help_text() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True, justify="right")
    grid.add_column()
    for title, rows in KEYS:
        grid.add_row("", Text(title, style="bold underline"))
        for key, what in rows:
            grid.add_row(key, what)
        grid.add_row("", "")
    grid.add_row("", Text("Actions go through the library, like `sdjobs jobs pause ID`: a runner does the work. "
                          "The view follows the library live.", style="dim"))
    return grid


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text())

    def action_dismiss(self) -> None:
        self.dismiss(None)
