"""The `/` filter and the `#` go-to: an input line that appears above the table while typing."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

PROMPTS = {
    "filter": "search the whole library: id, type, status, path, command, reason (enter keeps it, esc clears)",
    "goto": "go to job # (enter goes, esc cancels)",
}


class FilterBar(Input):
    """In ``filter`` mode the text is searched for in every job; in ``goto`` mode it is a job id."""

    BINDINGS = [Binding("escape", "clear_and_close", "Clear", show=False)]

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder=PROMPTS["filter"], **kwargs)
        self.mode = "filter"

    def open(self, mode: str, value: str = "") -> None:
        self.mode = mode
        self.placeholder = PROMPTS[mode]
        self.restrict = r"#?[0-9]*" if mode == "goto" else None
        self.value = value
        self.add_class("open")
        self.focus()

    def close(self) -> None:
        self.remove_class("open")

    def action_clear_and_close(self) -> None:
        if self.mode == "filter":
            self.value = ""
        self.close()
        self.post_message(self.Submitted(self, "" if self.mode == "goto" else self.value))
