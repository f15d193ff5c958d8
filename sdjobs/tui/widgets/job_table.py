"""The table of jobs, drawn line by line (Textual's Line API).

A progress write changes one row; only that row is formatted and drawn again
(DataTable would re-render every visible cell on any change, which costs tens
of milliseconds a time with a full screen). Rows are cached as strips keyed by
job, so scrolling and an idle screen cost next to nothing.

The columns fit the width: each has a priority and a narrowest and widest
size; as the width falls the least important go first, and WHAT (what the job
reads and writes, or why it failed) takes whatever is left. The ID column
stays put while ←/→ scroll the rest, which happens only below ~40 columns.
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


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    narrow: int        # the fewest cells it is shown in
    wide: int          # the most it takes (WHAT takes the rest instead)
    rank: int          # 0 is kept longest
    right: bool = False


COLUMNS = (  # in display order
    Column("id", "ID", 2, 6, 0, right=True),
    Column("type", "TYPE", 8, 10, 3),
    Column("status", "STATUS", 11, 11, 1),
    Column("host", "HOST", 4, 10, 4),  # only once the library has several hosts (JobView.host)
    Column("pri", "PRI", 3, 3, 9, right=True),
    Column("bar", "PROGRESS", 12, 12, 4),
    Column("done", "DONE", 15, 18, 8),
    Column("eta", "ETA", 5, 7, 5, right=True),
    Column("rate", "RATE", 9, 12, 6, right=True),
    Column("phase", "PHASE", 8, 12, 10),
    Column("age", "AGE", 3, 4, 7, right=True),
    Column("what", "WHAT", 20, 0, 2),
)
KEYS = tuple(c.key for c in COLUMNS)
BY_KEY = {c.key: c for c in COLUMNS}
SEP = 1     # cells between columns (and before the first)
CURSOR = Style(reverse=True, bold=True)
CURSOR_UNFOCUSED = Style(reverse=True)


def layout(width: int, id_width: int = 4, hosts: bool = False) -> list[tuple[Column, int]]:
    """The columns shown in ``width`` cells and the width of each, in display order (HOST only
    with ``hosts``)."""
    shown = [c for c in COLUMNS if hosts or c.key != "host"]
    wide = {c.key: (max(c.narrow, id_width) if c.key == "id" else c.wide) for c in shown}
    narrow = {c.key: (wide["id"] if c.key == "id" else c.narrow) for c in shown}
    narrow["what"] = max(narrow["what"], (width - 40) // 2)  # WHAT grows with the width, the others are capped
    chosen: dict[str, int] = {}
    used = 0
    for c in sorted(shown, key=lambda c: c.rank):
        need = narrow[c.key] + SEP
        if used + need <= width or not chosen:
            chosen[c.key] = narrow[c.key]
            used += need
    for c in sorted(shown, key=lambda c: c.rank):  # then widen them, most important first
        if c.key in chosen and c.key != "what":
            grow = min(wide[c.key] - chosen[c.key], width - used)
            if grow > 0:
                chosen[c.key] += grow
                used += grow
    if "what" in chosen:
        chosen["what"] += max(0, width - used)
    return [(c, chosen[c.key]) for c in shown if c.key in chosen]


def cells(v: JobView, now: float) -> dict[str, Text]:
    """The cells of one job that do not depend on the width (WHAT is laid out when drawn)."""
    active = v.active
    return {
        "id": Text(str(v.id)),
        "type": Text(v.type) if v.known else Text(v.type + "?", style="italic dim"),
        "status": fmt.status_text(v.status, v.control),
        "host": Text(v.host, style="dim" if v.host == "any" else ""),
        "pri": Text(str(v.priority) if v.priority else "", style="bold" if v.priority > 0 else "dim"),
        "bar": fmt.progress_bar(v.fraction, 7, status=v.status) if active or v.fraction is not None else Text(""),
        "done": Text(v.done, style="" if active else "dim"),
        "eta": Text(v.eta),
        "rate": Text(v.rate if len(v.rate) <= 9 else v.rate.rsplit(" ", 1)[0] + "/s"),  # '8.4k/s': DONE has the unit
        "phase": Text("unreadable", style="red") if v.problem else Text(v.phase if active else ""),
        "age": Text(fmt.human_age(v.created_at, now)),
    }


def what_cell(v: JobView, width: int, depth: int = 0, folded: int = 0) -> Text:
    """What the job works on, or first why it failed; nested children are indented under their parent."""
    text = Text(no_wrap=True)
    if depth:
        text.append("  " * (depth - 1) + "└ ", style="dim")
    if folded:
        text.append(f"▸{folded} ", style="bold")
    if v.after and v.status == "queued":
        text.append("after " + ", ".join(f"#{i}" for i in v.after) + " · ", style="italic")
    if v.reason:
        text.append(v.reason, style=fmt.STATUS_STYLE.get(v.status, "red") if v.status != "completed-with-errors"
                    else "yellow")
        text.append(" · ", style="dim")
    room = max(4, width - text.cell_len)
    what = fmt.what_text(v.sources, v.dest, room) or v.started_by
    text.append(what, style="dim" if v.reason or not v.active else "")
    return text


class JobTable(ScrollView, can_focus=True):
    """Shows ``JobView`` rows with a cursor; ``show`` applies a new list, redrawing what changed."""

    COMPONENT_CLASSES = {"job-table--header"}
    BINDINGS = [
        Binding("enter", "select", "Details"),
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False),
        Binding("home,g", "move(-1000000000)", "First", show=False),
        Binding("end,G", "move(1000000000)", "Last", show=False),
        Binding("left", "slide(-8)", "Scroll left", show=False),
        Binding("right", "slide(8)", "Scroll right", show=False),
    ]

    @dataclass
    class Selected(Message):
        """Enter (or a double click) on a job."""

        job_id: int

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._views: dict[int, JobView] = {}
        self._cells: dict[int, dict[str, Text]] = {}
        self._strips: dict[int, Strip] = {}
        self._order: list[int] = []
        self._index: dict[int, int] = {}
        self._depth: dict[int, int] = {}
        self._folded: dict[int, int] = {}
        self._layout: list[tuple[Column, int]] = layout(80)
        self._id_width = 4
        self._hosts = False  # the HOST column is shown (a row has a host: JobView.host)
        self._header: Strip | None = None
        self._slide = 0     # cells scrolled sideways (everything but the ID)
        self.cursor = 0

    # -- data ------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def selected_id(self) -> int | None:
        return self._order[self.cursor] if 0 <= self.cursor < len(self._order) else None

    @property
    def shown_columns(self) -> list[str]:
        return [c.key for c, _ in self._layout]

    def view(self, job_id: int) -> JobView | None:
        return self._views.get(job_id)

    def cell_text(self, job_id: int, column: str) -> str:
        """The plain text of one cell (for tests and benchmarks)."""
        if column == "what":
            width = dict((c.key, w) for c, w in self._layout).get("what", 40)
            return what_cell(self._views[job_id], width, self._depth.get(job_id, 0)).plain
        return self._cells[job_id][column].plain

    def select(self, job_id: int) -> None:
        if job_id in self._index:
            self._move_to(self._index[job_id])

    def show(self, views: list[JobView], now: float, depth: dict[int, int] | None = None,
             folded: dict[int, int] | None = None) -> None:
        """Show these rows in this order; ``depth`` nests a child under its parent, ``folded`` counts
        the hidden children of a collapsed parent. The cursor stays on its job when rows move."""
        selected = self.selected_id
        order = [v.id for v in views]
        depth, folded = depth or {}, folded or {}
        changed = []
        for v in views:
            old = self._views.get(v.id)
            nest = (depth.get(v.id, 0), folded.get(v.id, 0))
            if old is None or (old is not v and old != v) or nest != (self._depth.get(v.id, 0),
                                                                    self._folded.get(v.id, 0)):
                self._cells[v.id] = cells(v, now)
                self._strips.pop(v.id, None)
                changed.append(v.id)
        self._views = {v.id: v for v in views}
        self._depth, self._folded = depth, folded
        for gone in set(self._cells) - self._views.keys():
            del self._cells[gone]
            self._strips.pop(gone, None)
        id_width = max([len(str(i)) for i in order] + [2])
        hosts = any(v.host for v in views)
        if id_width != self._id_width or hosts != self._hosts:
            self._id_width, self._hosts = id_width, hosts
            self._relayout()
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
        for job_id, v in self._views.items():
            age = fmt.human_age(v.created_at, now)
            row = self._cells[job_id]
            if row["age"].plain != age:
                row["age"] = Text(age)
                if "age" in self.shown_columns:
                    self._strips.pop(job_id, None)
                    self._refresh_row(self._index[job_id])

    # -- cursor and scrolling ------------------------------------------------------
    @property
    def visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _move_to(self, row: int) -> None:
        old = self.cursor
        self.cursor = max(0, min(row, len(self._order) - 1))
        if old != self.cursor:
            self._refresh_row(old)
            self._refresh_row(self.cursor)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self, again: int = 3) -> None:
        visible = self.visible_rows
        top = round(self.scroll_offset.y)
        if self.cursor < top:
            target = self.cursor
        elif self.cursor >= top + visible:
            target = self.cursor - visible + 1
        else:
            return
        # force: the scrollbar may not be laid out yet for rows that just arrived
        self.scroll_to(y=target, animate=False, immediate=True, force=True)
        if again and round(self.scroll_offset.y) != target:  # clamped to a size not yet laid out: once more
            self.call_after_refresh(self._scroll_to_cursor, again - 1)

    def cursor_on_screen(self) -> bool:
        """The highlighted row is drawn inside the table (not above it, not under its edge)."""
        top = round(self.scroll_offset.y)
        return top <= self.cursor < top + self.visible_rows

    def action_move(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.visible_rows - 1))

    def action_slide(self, delta: int) -> None:
        total = sum(w + SEP for _, w in self._layout) + SEP
        most = max(0, total - self.size.width)
        slide = max(0, min(most, self._slide + delta))
        if slide != self._slide:
            self._slide = slide
            self.refresh()

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
        self._relayout()
        self._resize_virtual()
        self._move_to(self.cursor)

    def _relayout(self) -> None:
        new = layout(max(1, self.size.width - SEP), self._id_width, self._hosts)
        if new != self._layout:
            self._layout = new
            self._strips.clear()
            self._header = None
            self._slide = 0
            self.refresh()

    def _resize_virtual(self) -> None:
        # never wider than the widget (whose width drops by the vertical scrollbar's when one appears): no
        # horizontal scrollbar to hide the last row under (←/→ slide the columns instead)
        self.virtual_size = Size(1, len(self._order) + 1)

    def _line(self, texts: dict[str, Text], what: Text | None = None, style: Style | None = None) -> Strip:
        line = Text(no_wrap=True, end="", style=style or "")
        for column, width in self._layout:
            text = what if column.key == "what" and what is not None else texts.get(column.key, Text(""))
            text = text.copy()
            text.truncate(width, overflow="ellipsis")
            line.append(" " * SEP)
            pad = " " * (width - text.cell_len)
            if column.right:
                line.append(pad)
                line.append_text(text)
            else:
                line.append_text(text)
                line.append(pad)
        null = Style()
        segments = [Segment(s.text, s.style or null) for s in line.render(self.app.console) if s.text != "\n"]
        return Strip(Segment.simplify(segments))

    def _row_strip(self, job_id: int) -> Strip:
        strip = self._strips.get(job_id)
        if strip is None:
            width = dict((c.key, w) for c, w in self._layout).get("what", 0)
            what = what_cell(self._views[job_id], width, self._depth.get(job_id, 0), self._folded.get(job_id, 0))
            strip = self._strips[job_id] = self._line(self._cells[job_id], what)
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            if self._header is None:
                style = self.get_component_rich_style("job-table--header")
                self._header = self._line({c.key: Text(c.label) for c in COLUMNS}, style=style)
            strip = self._header
        else:
            row = round(self.scroll_offset.y) + y - 1
            if not 0 <= row < len(self._order):
                return Strip.blank(width, self.rich_style)
            strip = self._row_strip(self._order[row])
            if row == self.cursor:
                strip = strip.apply_style(CURSOR if self.has_focus else CURSOR_UNFOCUSED)
        if self._slide:
            pinned = SEP + self._layout[0][1]
            strip = Strip.join([strip.crop(0, pinned), strip.crop(pinned + self._slide, strip.cell_length)])
        return strip.crop_extend(0, width, self.rich_style)

    def on_focus(self) -> None:
        self._refresh_row(self.cursor)

    def on_blur(self) -> None:
        self._refresh_row(self.cursor)
