"""The table of jobs: updated in place, cell by cell, so the cursor stays put."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist

from .. import format as fmt
from ..model import JobView

# key, label, width (the last one is as wide as its content)
COLUMNS = (
    ("id", "ID", 4), ("type", "TYPE", 10), ("status", "STATUS", 11), ("bar", "PROGRESS", 12),
    ("done", "DONE", 16), ("eta", "ETA", 7), ("rate", "RATE", 12), ("phase", "PHASE", 12),
    ("age", "AGE", 4), ("by", "STARTED BY", 30),
)
_KEYS = tuple(c[0] for c in COLUMNS)


def cells(v: JobView, now: float) -> tuple:
    """The row of one job, in column order."""
    type_cell = Text(v.type) if v.known else Text(v.type + "?", style="italic dim")
    phase = Text(v.phase) if not v.problem else Text("unreadable", style="red")
    active = v.active
    return (
        Text(str(v.id), justify="right"),
        type_cell,
        fmt.status_text(v.status, v.control),
        fmt.progress_bar(v.fraction, 7, status=v.status) if active or v.fraction is not None else Text(""),
        Text(v.done, style="" if active else "dim"),
        v.eta,
        v.rate,
        phase if active or v.problem else Text(""),
        fmt.human_age(v.created_at, now),
        Text(v.started_by, style="dim", no_wrap=True, overflow="ellipsis"),
    )


class JobTable(DataTable):
    """Shows ``JobView`` rows; ``show`` applies a new list by changing only what changed."""

    BULK = 50  # more removals than this and the table is rebuilt instead

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=1, **kwargs)
        self._views: dict[int, JobView] = {}
        self._cells: dict[int, tuple] = {}
        self._order: list[int] = []

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def on_resize(self) -> None:
        """The last column takes the width that is left."""
        fixed = sum(width for key, _, width in COLUMNS[:-1]) + 2 * len(COLUMNS) * self.cell_padding
        column = self.columns[ColumnKey(COLUMNS[-1][0])]
        width = max(COLUMNS[-1][2], self.size.width - fixed - 2)
        if column.width != width:
            column.width = width
            self._require_update_dimensions = True
            self.refresh()

    @property
    def selected_id(self) -> int | None:
        if not self._order or self.cursor_row < 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return int(key.value) if key.value is not None else None

    def view(self, job_id: int) -> JobView | None:
        return self._views.get(job_id)

    def select(self, job_id: int) -> None:
        try:
            self.move_cursor(row=self.get_row_index(str(job_id)), animate=False)
        except RowDoesNotExist:
            pass

    def show(self, views: list[JobView], now: float) -> None:
        selected = self.selected_id
        wanted = {v.id for v in views}
        gone = [i for i in self._views if i not in wanted]
        if len(gone) > self.BULK:
            self._rebuild(views, now)
        else:
            for job_id in gone:
                self.remove_row(str(job_id))
                del self._views[job_id], self._cells[job_id]
            for v in views:
                old = self._views.get(v.id)
                if old is None:
                    row = cells(v, now)
                    self.add_row(*row, key=str(v.id))
                    self._cells[v.id] = row
                elif old is not v and old != v:
                    self._update(v.id, cells(v, now))
                self._views[v.id] = v
        order = [v.id for v in views]
        if order != self._order:
            position = {job_id: n for n, job_id in enumerate(order)}
            self.sort("id", key=lambda cell: position[int(cell.plain)])
            self._order = order
        if selected is not None and selected in wanted and self.selected_id != selected:
            self.select(selected)

    def _rebuild(self, views: list[JobView], now: float) -> None:
        self.clear()
        self._views = {v.id: v for v in views}
        self._cells = {v.id: cells(v, now) for v in views}
        for v in views:
            self.add_row(*self._cells[v.id], key=str(v.id))
        self._order = [v.id for v in views]

    def _update(self, job_id: int, row: tuple) -> None:
        old = self._cells[job_id]
        for key, before, after in zip(_KEYS, old, row):
            if before != after:
                self.update_cell(str(job_id), key, after)
        self._cells[job_id] = row

    def refresh_ages(self, now: float) -> None:
        """Ages move with the clock, not with the library."""
        index = _KEYS.index("age")
        for job_id, v in self._views.items():
            age = fmt.human_age(v.created_at, now)
            row = self._cells[job_id]
            if row[index] != age:
                self._update(job_id, row[:index] + (age,) + row[index + 1:])

    def cell_text(self, job_id: int, column: str) -> str:
        """The plain text of one cell (for tests and benchmarks)."""
        value = self._cells[job_id][_KEYS.index(column)]
        return value.plain if isinstance(value, Text) else str(value)
