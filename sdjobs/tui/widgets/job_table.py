"""The table of jobs, drawn line by line (Textual's Line API).

A progress write changes one row; only that row is formatted and drawn again
(DataTable would re-render every visible cell on any change, which costs tens
of milliseconds a time with a full screen). Rows are cached as strips keyed by
job, so scrolling and an idle screen cost next to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .. import format as fmt
from ..model import JobView

# key, label, width; the last column takes the width that is left (at least its own)
COLUMNS = (
    ("id", "ID", 4), ("type", "TYPE", 10), ("status", "STATUS", 11), ("bar", "PROGRESS", 12),
    ("done", "DONE", 16), ("eta", "ETA", 7), ("rate", "RATE", 12), ("phase", "PHASE", 10),
    ("age", "AGE", 4), ("by", "STARTED BY", 12),
)
KEYS = tuple(c[0] for c in COLUMNS)
RIGHT = {"id", "age"}
PAD = 1


def cells(v: JobView, now: float) -> tuple[Text, ...]:
    """The row of one job, in column order."""
    active = v.active
    return (
        Text(str(v.id)),
        Text(v.type) if v.known else Text(v.type + "?", style="italic dim"),
        fmt.status_text(v.status, v.control),
        fmt.progress_bar(v.fraction, 7, status=v.status) if active or v.fraction is not None else Text(""),
        Text(v.done, style="" if active else "dim"),
        Text(v.eta),
        Text(v.rate),
        Text("unreadable", style="red") if v.problem else Text(v.phase if active else ""),
        Text(fmt.human_age(v.created_at, now)),
        Text(v.started_by, style="dim"),
    )


class JobTable(ScrollView, can_focus=True):
    """Shows ``JobView`` rows with a cursor; ``show`` applies a new list, redrawing what changed."""

    COMPONENT_CLASSES = {"job-table--header", "job-table--cursor"}
    BINDINGS = [
        Binding("enter", "select", "Details"),
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Last", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
    ]

    @dataclass
    class Selected(Message):
        """Enter (or a double click) on a job."""

        job_id: int

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._views: dict[int, JobView] = {}
        self._cells: dict[int, tuple[Text, ...]] = {}
        self._strips: dict[int, Strip] = {}
        self._order: list[int] = []
        self._index: dict[int, int] = {}
        self._widths = [w for _, _, w in COLUMNS]
        self._header: Strip | None = None
        self.cursor = 0

    # -- data ------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def selected_id(self) -> int | None:
        return self._order[self.cursor] if 0 <= self.cursor < len(self._order) else None

    def view(self, job_id: int) -> JobView | None:
        return self._views.get(job_id)

    def cell_text(self, job_id: int, column: str) -> str:
        """The plain text of one cell (for tests and benchmarks)."""
        return self._cells[job_id][KEYS.index(column)].plain

    def select(self, job_id: int) -> None:
        if job_id in self._index:
            self._move_to(self._index[job_id])

    def show(self, views: list[JobView], now: float) -> None:
        selected = self.selected_id
        order = [v.id for v in views]
        changed = []
        for v in views:
            old = self._views.get(v.id)
            if old is None or (old is not v and old != v):
                self._cells[v.id] = cells(v, now)
                self._strips.pop(v.id, None)
                changed.append(v.id)
        self._views = {v.id: v for v in views}
        for gone in set(self._cells) - self._views.keys():
            del self._cells[gone]
            self._strips.pop(gone, None)
        if order != self._order:
            self._order = order
            self._index = {job_id: n for n, job_id in enumerate(order)}
            self._resize_virtual()
            if selected in self._index:
                self.cursor = self._index[selected]
            self._move_to(self.cursor)
            self.refresh()
        else:
            for job_id in changed:
                self._refresh_row(self._index[job_id])

    def refresh_ages(self, now: float) -> None:
        """Ages move with the clock, not with the library."""
        i = KEYS.index("age")
        for job_id, v in self._views.items():
            age = fmt.human_age(v.created_at, now)
            row = self._cells[job_id]
            if row[i].plain != age:
                self._cells[job_id] = row[:i] + (Text(age),) + row[i + 1:]
                self._strips.pop(job_id, None)
                self._refresh_row(self._index[job_id])

    # -- cursor and scrolling ------------------------------------------------------
    def _move_to(self, row: int) -> None:
        old = self.cursor
        self.cursor = max(0, min(row, len(self._order) - 1))
        if old != self.cursor:
            self._refresh_row(old)
            self._refresh_row(self.cursor)
        visible = max(1, self.size.height - 1)
        top = round(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def action_move(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.size.height - 2))

    def action_select(self) -> None:
        if self.selected_id is not None:
            self.post_message(self.Selected(self.selected_id))

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_offset.y) + event.y - 1
        if event.y >= 1 and 0 <= row < len(self._order):
            self._move_to(row)
            if getattr(event, "chain", 1) >= 2:
                self.action_select()

    def _refresh_row(self, row: int) -> None:
        y = row - round(self.scroll_offset.y) + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # -- drawing -------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        fixed = sum(self._widths[:-1]) + 2 * PAD * len(COLUMNS)
        last = max(COLUMNS[-1][2], self.size.width - fixed - 1)
        if last != self._widths[-1]:
            self._widths[-1] = last
            self._strips.clear()
            self._header = None
        self._resize_virtual()

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(sum(self._widths) + 2 * PAD * len(COLUMNS), len(self._order) + 1)

    def _line(self, texts, style: Style | None = None) -> Strip:
        line = Text(no_wrap=True, end="", style=style or "")
        for (key, _, _), width, text in zip(COLUMNS, self._widths, texts):
            text = text.copy()
            text.truncate(width, overflow="ellipsis")
            line.append(" " * PAD)
            if key in RIGHT:
                line.append(" " * (width - text.cell_len))
                line.append_text(text)
            else:
                line.append_text(text)
                line.append(" " * (width - text.cell_len))
            line.append(" " * PAD)
        null = Style()
        segments = [Segment(s.text, s.style or null) for s in line.render(self.app.console) if s.text != "\n"]
        return Strip(Segment.simplify(segments))

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            if self._header is None:
                style = self.get_component_rich_style("job-table--header")
                self._header = self._line([Text(label) for _, label, _ in COLUMNS], style)
            strip = self._header
        else:
            row = round(scroll_y) + y - 1
            if not 0 <= row < len(self._order):
                return Strip.blank(width, self.rich_style)
            job_id = self._order[row]
            strip = self._strips.get(job_id)
            if strip is None:
                strip = self._strips[job_id] = self._line(self._cells[job_id])
            if row == self.cursor and self.has_focus:
                strip = strip.apply_style(self.get_component_rich_style("job-table--cursor"))
        return strip.crop_extend(round(scroll_x), round(scroll_x) + width, self.rich_style)

    def on_focus(self) -> None:
        self._refresh_row(self.cursor)

    def on_blur(self) -> None:
        self._refresh_row(self.cursor)
