"""The header line: runners alive and busy, totals by status, and the active filters."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from .. import format as fmt
from ..model import HISTORY_LIMIT, Snapshot

ORDER = ("running", "queued", "paused", "interrupted", "failed", "completed-with-errors", "completed", "cancelled")
LABEL = {"completed": "done", "completed-with-errors": "w/errors"}


def runner_text(snapshot: Snapshot) -> Text:
    runners = snapshot.runners
    if not runners:
        waiting = snapshot.counts.get("queued", 0)
        return Text("no runner" + (" · queued jobs wait" if waiting else ""), style="yellow")
    busy = sum(r.busy for r in runners)
    workers = sum(r.workers for r in runners)
    name = "runner" if len(runners) == 1 else f"{len(runners)} runners"
    text = Text("● ", style="green")
    text.append(f"{name} {busy}/{workers} busy")
    if any(r.stopping for r in runners):
        text.append(" · stopping", style="yellow")
    return text


def totals_text(counts: dict[str, int]) -> Text:
    text = Text()
    for status in ORDER + tuple(sorted(set(counts) - set(ORDER))):
        n = counts.get(status, 0)
        if n:
            if text:
                text.append("  ")
            text.append(f"{n} ", style="bold")
            text.append(LABEL.get(status, status), style=fmt.STATUS_STYLE.get(status, ""))
    return text or Text("no jobs", style="dim")


class StatusBar(Static):
    """Runner status and totals on the left and right of one line, then the filters if any."""

    def show(self, snapshot: Snapshot | None, *, shown: int, text_filter: str = "",
             status_filter: str | None = None, history: bool = True, sort: str = "active",
             follow_new: bool = False, library: str = "") -> None:
        if snapshot is None:
            left, right = Text("reading the library…", style="dim"), Text("")
        elif snapshot.error:
            left, right = Text(f"cannot read the library: {snapshot.error}", style="red"), Text("")
        else:
            left, right = runner_text(snapshot), totals_text(snapshot.counts)
        grid = Table.grid(expand=True, padding=(0, 2, 0, 0))
        grid.add_column(no_wrap=True, overflow="ellipsis", min_width=min(left.cell_len, 40))
        grid.add_column(justify="right", no_wrap=True, overflow="ellipsis", ratio=1)
        grid.add_row(left, right)
        filters = []
        if snapshot is not None and snapshot.matching is not None and snapshot.matching > len(snapshot.jobs):
            filters.append(f"the first {len(snapshot.jobs):,} of {snapshot.matching:,} matching")
        if text_filter:
            filters.append(f"matching “{text_filter}”")
        if status_filter:
            filters.append(f"status {status_filter}")
        if not history:
            filters.append("history hidden")
        elif (snapshot is not None and snapshot.matching is None and not text_filter and not status_filter
              and snapshot.history_total > HISTORY_LIMIT):
            filters.append(f"the newest {HISTORY_LIMIT:,} of {snapshot.history_total:,} finished jobs"
                           " (/ searches them all)")
        if sort != "active":
            filters.append(f"sorted by {sort}")
        if follow_new:
            filters.append("following new jobs")
        line = Text(f"{shown:,} shown · " + " · ".join(filters), style="italic") if filters else Text("")
        grid.add_row(line, Text(fmt.short_path(library, 50), style="dim"))
        key = (left, right, line)
        if key != getattr(self, "_key", None):  # two lines whatever they say: no layout needed
            self._key = key
            self.update(grid, layout=False)
