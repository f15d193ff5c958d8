"""The `/` filter: an input line that appears above the table while typing."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input


class FilterBar(Input):
    """Text matched against id, type, status, phase and command; escape clears it."""

    BINDINGS = [Binding("escape", "clear_and_close", "Clear filter", show=False)]

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder="filter: id, type, status, phase or command (enter keeps it, esc clears)",
                         **kwargs)

    def open(self) -> None:
        self.add_class("open")
        self.focus()

    def close(self) -> None:
        self.remove_class("open")

    def action_clear_and_close(self) -> None:
        self.value = ""
        self.close()
        self.post_message(self.Submitted(self, self.value))
