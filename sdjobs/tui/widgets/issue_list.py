"""Warnings and non-critical errors of a job, each with its path."""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from .. import format as fmt
from ...store.records import Event

MAX_ROWS = 5000


class IssueList(DataTable):
    """Newest last, like the log; paths shown escaped the way `sdjobs` prints them."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.count = 0

    def on_mount(self) -> None:
        self.add_column("TIME", key="time", width=8)
        self.add_column("KIND", key="kind", width=7)
        self.add_column("PATH", key="path", width=40)
        self.add_column("MESSAGE", key="message")

    def on_resize(self) -> None:
        """Share the width between path and message (paths are cut from the left)."""
        free = max(30, self.size.width - 2 - 8 - 7 - 4 * 2)
        path = max(16, int(free * 0.45))
        for key, width in (("path", path), ("message", max(14, free - path))):
            column = self.columns[ColumnKey(key)]
            column.width, column.auto_width = width, False
        self._require_update_dimensions = True
        self.refresh()

    def add(self, events: Iterable[Event], reset: bool = False) -> None:
        if reset:
            self.clear()
            self.count = 0
        for e in events:
            if self.count >= MAX_ROWS:
                break
            self.count += 1
            if RowKey(str(e.id)) in self.rows:
                continue
            self.add_row(fmt.clock(e.ts), Text(e.kind, style="red" if e.kind == "error" else "yellow"),
                         fmt.plain(fmt.short_path(e.path, self.columns[ColumnKey("path")].width)) if e.path else Text("—", style="dim"), fmt.plain(e.message),
                         key=str(e.id))

    def texts(self) -> list[str]:
        """Each row as one plain line (for tests)."""
        rows = []
        for row in self.ordered_rows:
            rows.append(" ".join(c.plain if isinstance(c, Text) else str(c) for c in self.get_row(row.key)))
        return rows
