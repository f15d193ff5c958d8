"""What the main view says when there is no row to show."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class EmptyNotice(Static):
    """Shown instead of an empty table: a hint for a new library, or that the filter hides everything."""

    def explain(self, *, library_empty: bool, filtered: bool) -> None:
        if library_empty:
            text = Text.assemble(("No jobs in this library yet.\n\n", "bold"),
                                 "Start one from a shell, for example:\n\n",
                                 ("  sdjobs copy ~/Photos /mnt/backup\n", "cyan"),
                                 "\nIt shows up here at once.")
        elif filtered:
            text = Text.assemble(("No job matches the filter.\n\n", "bold"),
                                 "/ changes the text, s the status, h shows the history.")
        else:
            text = Text("")
        self.update(text)
