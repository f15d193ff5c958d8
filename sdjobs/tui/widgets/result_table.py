"""A job's results as a table: columns named by the caller, rows from an iterator.

This is the seam for `sdjobs jobs output` (a validate job's issues, a dupes
job's groups): whoever reads the results hands ``load`` the columns and an
iterator of rows, and the table takes the first ``limit`` of them. Path
columns are cut from the left so that the file name stays visible, and are
laid out again when the width changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

from .. import format as fmt

SEVERITY_STYLE = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "cyan"}
MONO_SEVERITY_STYLE = {"critical": "bold reverse", "error": "bold", "warning": "underline", "info": ""}


@dataclass(frozen=True)
class ResultColumn:
    """``kind``: 'path' (cut from the left), 'severity' (styled), 'number' (right-aligned) or 'text'.
    ``width`` fixes a column's width; columns without one share what is left (paths first)."""

    key: str
    label: str
    kind: str = "text"
    width: int | None = None


class ResultTable(DataTable):
    """Rows of results; ``rows`` keeps them as given (for keys that open or copy a path later)."""

    def __init__(self, columns: Sequence[ResultColumn] = (), limit: int = 5000, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.result_columns: tuple[ResultColumn, ...] = tuple(columns)
        self.limit = limit
        self.rows_given: list[Mapping[str, Any]] = []
        self.total: int | None = None   # rows the iterator had (None: more than the limit)
        self._widths: dict[str, int] = {}

    def load(self, columns: Sequence[ResultColumn], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> None:
        """Show ``columns`` and the first ``limit`` rows (mappings by column key, or sequences in column order)."""
        self.result_columns = tuple(columns)
        keys = [c.key for c in self.result_columns]
        self.rows_given = []
        self.total = 0
        for row in rows:
            if len(self.rows_given) >= self.limit:
                self.total = None
                break
            self.rows_given.append(row if isinstance(row, Mapping) else dict(zip(keys, row, strict=False)))
            self.total += 1
        self._rebuild()

    @property
    def selected_row(self) -> Mapping[str, Any] | None:
        if 0 <= self.cursor_row < len(self.rows_given):
            return self.rows_given[self.cursor_row]
        return None

    def on_resize(self) -> None:
        self._rebuild()

    def _layout(self) -> dict[str, int]:
        cols = self.result_columns
        natural: dict[str, int] = {}
        for c in cols:
            if c.width is not None:
                natural[c.key] = c.width
            elif c.kind in ("severity", "number"):
                natural[c.key] = max([len(c.label)] + [len(str(r.get(c.key, ""))) for r in self.rows_given[:500]])
        free = max(10, self.size.width - 2 * len(cols) - sum(natural.values()) - 2)
        flexible = [c for c in cols if c.key not in natural]
        paths = [c for c in flexible if c.kind == "path"]
        for c in flexible:
            share = free * (0.5 if len(paths) < len(flexible) else 1.0) / max(1, len(paths)) if c.kind == "path" \
                else free * (0.5 if paths else 1.0) / max(1, len(flexible) - len(paths))
            natural[c.key] = max(len(c.label), int(share))
        return natural

    def _rebuild(self) -> None:
        if not self.result_columns or not self.size.width:
            return  # laid out when it is shown
        widths = self._layout()
        if widths == self._widths and self.row_count <= len(self.rows_given) and self.columns:
            self.add_rows([self._cells(r, widths) for r in self.rows_given[self.row_count:]])  # new rows only
            return
        self._widths = widths
        cursor = self.cursor_row
        self.clear(columns=True)
        for c in self.result_columns:
            self.add_column(c.label, key=c.key, width=widths[c.key])
        self.add_rows([self._cells(r, widths) for r in self.rows_given])
        if self.rows_given:
            self.move_cursor(row=min(cursor, len(self.rows_given) - 1))

    def _cells(self, row: Mapping[str, Any], widths: dict[str, int]) -> list[Text]:
        out = []
        for c in self.result_columns:
            value = row.get(c.key)
            if value is None or value == "":
                out.append(Text("—", style="dim") if c.kind == "path" else Text(""))
            elif c.kind == "path":
                out.append(Text(fmt.short_path(value, widths[c.key])))
            elif c.kind == "severity":
                styles = MONO_SEVERITY_STYLE if fmt.monochrome() else SEVERITY_STYLE
                out.append(Text(str(value), style=styles.get(str(value), "")))
            elif c.kind == "number":
                out.append(Text(f"{value:,}" if isinstance(value, int) else str(value), justify="right"))
            else:
                out.append(fmt.plain(value))
        return out

    def texts(self) -> list[str]:
        """Each row as given, as one plain line (for tests)."""
        return [" ".join(fmt.safe(r.get(c.key)) if r.get(c.key) is not None else "" for c in self.result_columns)
                for r in self.rows_given]

    def shown_texts(self) -> list[str]:
        """Each row as drawn (paths cut to their column), as one plain line."""
        return [" ".join(c.plain if isinstance(c, Text) else str(c) for c in self.get_row(row.key))
                for row in self.ordered_rows]
