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
    ("Move", (
        ("↑ ↓  k j", "previous / next job"), ("PgUp PgDn", "a page up / down"),
        ("Home End  g G", "first / last job"), ("← →", "slide the columns (the ID stays)"),
        ("enter", "details of the job"), ("# or :", "go to a job by its id"),
        ("space", "fold / unfold a job's children"),
    )),
    ("Act on the job", (
        ("p", "pause (it checkpoints first)"), ("r", "resume a paused or interrupted job"),
        ("c", "cancel (asks first)"), ("R", "retry a failed, cancelled or completed-with-errors job"),
        ("+ / -", "raise / lower its priority"),
    )),
    ("View", (
        ("/", "search the whole library: id, type, status, path, command, reason"),
        ("s", "next status filter (only statuses that some job has)"), ("o", "next sort order"),
        ("h", "show or hide the history"), ("f", "follow new jobs: the cursor jumps to each new one"),
        ("ctrl+p", "command palette"), ("?", "this help"), ("q  ctrl+c", "quit"), ("ctrl+z", "suspend"),
    )),
    ("Details", (
        ("1 2 3 4", "overview, issues, log, output"), ("tab shift+tab", "next / previous part of the screen"),
        ("escape", "back to the table"), ("p r c R + -", "act on this job"),
        ("y", "copy the selected result's path (or the job id) to the clipboard (OSC 52)"),
        ("o", "open the selected result's path in $PAGER"), ("v", "the whole result in $PAGER"),
    )),
)
DASH_KEYS = tuple((key, what) for _, rows in KEYS for key, what in rows)


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
        with VerticalScroll(id="help-box") as box:
            box.border_title = "sdjobs dash · keys"
            box.border_subtitle = "esc closes"
            yield Static(help_text())

    def action_dismiss(self) -> None:
        self.dismiss(None)
