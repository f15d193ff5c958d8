"""The job's log, following live: phases, warnings, errors and log lines as they arrive."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

from .. import format as fmt
from ...core.display import safe
from ...store.records import Event

KIND_STYLE = {"error": "red", "warning": "yellow", "log": "", "phase": "cyan"}
MIN_INTERVAL = 1.0   # seconds between two batches of writes (each write lays the log out again)


def event_line(e: Event) -> Text:
    text = Text()
    text.append(fmt.clock(e.ts) + " ", style="dim")
    text.append(f"{e.kind:<7} ", style=KIND_STYLE.get(e.kind, "dim"))
    if e.path:
        text.append(fmt.short_path(e.path, 200) + ": ", style="bold")
    text.append(safe(e.message))
    return text


class LogTail(RichLog):
    """Appends new events and keeps the newest ``max_lines``; follows them unless scrolled back.
    Lines arriving within MIN_INTERVAL of the last batch are written together."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=2000, wrap=True, highlight=False, markup=False, auto_scroll=True, **kwargs)
        self.texts: list[str] = []  # the plain lines, for tests and copy-paste
        self._pending: list[Text] = []
        self._last = 0.0
        self._armed = False

    def add(self, events: Iterable[Event], reset: bool = False) -> None:
        if reset:
            self.clear()
            self.texts = []
            self._pending = []
        for e in events:
            line = event_line(e)
            self.texts.append(line.plain)
            self._pending.append(line)
        del self.texts[:-2000]
        if self._pending and not self._armed:
            wait = self._last + MIN_INTERVAL - time.monotonic()
            if wait <= 0:
                self._flush()
            else:
                self._armed = True
                self.set_timer(wait, self._flush)

    def _flush(self) -> None:
        self._armed = False
        lines, self._pending = self._pending[-2000:], []
        if not lines:
            return
        self._last = time.monotonic()
        follow = self.scroll_y >= self.max_scroll_y - 1  # at the end: keep following; scrolled back: stay put
        for line in lines:
            self.write(line, scroll_end=follow)
