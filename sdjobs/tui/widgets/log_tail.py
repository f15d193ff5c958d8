"""The job's log, following live: phases, warnings, errors and log lines as they arrive."""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual.widgets import RichLog

from .. import format as fmt
from ...core.display import safe
from ...store.records import Event

KIND_STYLE = {"error": "red", "warning": "yellow", "log": "", "phase": "cyan"}


def event_line(e: Event) -> Text:
    text = Text()
    text.append(fmt.clock(e.ts) + " ", style="dim")
    text.append(f"{e.kind:<7} ", style=KIND_STYLE.get(e.kind, "dim"))
    if e.path:
        text.append(fmt.short_path(e.path, 200) + ": ", style="bold")
    text.append(safe(e.message))
    return text


class LogTail(RichLog):
    """Appends new events and keeps the newest ``max_lines``; follows them unless scrolled back."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=2000, wrap=True, highlight=False, markup=False, auto_scroll=True, **kwargs)
        self.texts: list[str] = []  # the plain lines, for tests and copy-paste

    def add(self, events: Iterable[Event], reset: bool = False) -> None:
        if reset:
            self.clear()
            self.texts = []
        follow = self.scroll_y >= self.max_scroll_y - 1  # at the end: keep following; scrolled back: stay put
        for e in events:
            line = event_line(e)
            self.texts.append(line.plain)
            self.write(line, scroll_end=follow)
        del self.texts[:-2000]
