"""Sections of key/value lines (the detail screen's overview)."""

from __future__ import annotations

from typing import Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from .. import format as fmt

Section = tuple[str, Iterable[tuple[str, RenderableType]]]


def render_sections(sections: Iterable[Section]) -> Group:
    parts = []
    for title, rows in sections:
        rows = [(k, v) for k, v in rows if v not in (None, "") and not (isinstance(v, Text) and not v.plain)]
        if not rows:
            continue
        if parts:
            parts.append(Text(""))
        parts.append(Text(title, style="bold underline"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True, min_width=10)
        grid.add_column(overflow="fold")
        for key, value in rows:
            grid.add_row(key, fmt.plain(value) if isinstance(value, str) else value)  # never markup
        parts.append(grid)
    return Group(*parts)


class InfoPanel(Static):
    """A stack of titled key/value sections; empty values are left out."""

    def show(self, sections: Iterable[Section]) -> None:
        self.update(render_sections(sections))
