"""Sections of key/value lines (the detail screen's overview)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from .. import format as fmt

Section = tuple[str, Iterable[tuple[str, RenderableType]]]
MIN_INTERVAL = 1.0   # seconds between two renderings: a job writes its progress 4 times a second


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


def _key(sections: list) -> tuple:
    """What the sections say, to skip drawing the same thing again."""
    out = []
    for title, rows in sections:
        for k, v in rows:
            out.append((title, k, v.plain if isinstance(v, Text) else v if isinstance(v, str) else id(v)))
    return tuple(out)


def _shape(key: tuple, width: int) -> tuple:
    """The lines the sections take, near enough: the same rows, each value as many lines long."""
    room = max(10, width - 14)
    return tuple((title, k, (len(v) // room if isinstance(v, str) else "table") if v not in (None, "") else None)
                 for title, k, v in key)


class InfoPanel(Static):
    """A stack of titled key/value sections; empty values are left out. Drawn at most twice a second,
    only when something changed, and only while it can be seen (``visible`` is set by its screen)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._pending: list | None = None
        self._shown_key: tuple | None = None
        self._last = 0.0
        self._armed = False
        self.showing = True

    def show(self, sections: Iterable[Section]) -> None:
        self._pending = list(sections)
        self._schedule()

    def set_showing(self, showing: bool) -> None:
        self.showing = showing
        self._schedule()

    def _schedule(self) -> None:
        if self._armed or self._pending is None or not self.showing:
            return
        wait = self._last + MIN_INTERVAL - time.monotonic()
        if wait <= 0 or self._shown_key is None:
            self._flush()
        else:
            self._armed = True
            self.set_timer(wait, self._flush)

    def _flush(self) -> None:
        self._armed = False
        sections, self._pending = self._pending, None
        if sections is None:
            return
        key = _key(sections)
        if key != self._shown_key:
            shape = _shape(key, self.content_size.width)
            same_height = shape == getattr(self, "_shape", None)
            self._shown_key, self._shape = key, shape
            self._last = time.monotonic()
            self.update(render_sections(sections), layout=not same_height)  # a layout costs the whole screen
