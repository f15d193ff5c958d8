"""Warnings and non-critical errors of a job, each with its path (newest last, like the log)."""

from __future__ import annotations

from collections.abc import Iterable

from ...store.records import Event
from .. import format as fmt
from .result_table import ResultColumn, ResultTable

MAX_ROWS = 5000
COLUMNS = (ResultColumn("time", "TIME", width=8), ResultColumn("kind", "KIND", "severity", width=7),
           ResultColumn("path", "PATH", "path"), ResultColumn("message", "MESSAGE"))


class IssueList(ResultTable):
    """Events of kind warning/error as rows; paths keep their file name whatever the width."""

    def __init__(self, **kwargs) -> None:
        super().__init__(COLUMNS, limit=MAX_ROWS, **kwargs)
        self.count = 0
        self._ids: set[int] = set()

    def add(self, events: Iterable[Event], reset: bool = False) -> None:
        if reset:
            self.rows_given, self._ids, self.count, self._widths = [], set(), 0, {}
        for e in events:
            if self.count >= MAX_ROWS:
                break
            self.count += 1
            if e.id in self._ids:
                continue
            self._ids.add(e.id)
            self.rows_given.append({"time": fmt.clock(e.ts), "kind": e.kind, "path": e.path, "message": e.message})
        self._rebuild()
