"""Rendering: plain data in, JSON on stdout, or text for humans.

JSON never passes through rich, and neither do the list tables (`columns`):
importing and laying out a rich Table costs more than the rest of `jobs ls`.
Colour follows NO_COLOR and the terminal.
"""

from __future__ import annotations

import os
import sys
import time
import unicodedata
from typing import Any
from collections.abc import Iterable, Sequence
from ..core.display import safe
from ..core.humanize import human_bytes, human_duration  # noqa: F401  (re-exported)

STATUS_STYLE = {
    "queued": "cyan", "running": "bold blue", "paused": "yellow", "completed": "green",
    "completed-with-errors": "dark_orange", "failed": "bold red", "cancelled": "magenta",
    "interrupted": "red",
}


def console(stderr: bool = False):
    """A rich console for this stream; on a pipe, lines are wide (nothing is cut) and carry no padding."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False, soft_wrap=False)
    return Console(file=_Unpadded(stream), no_color="NO_COLOR" in os.environ, highlight=False, soft_wrap=False,
                   width=400)


class _Unpadded:
    """A text stream that drops the spaces rich pads table lines with (a pipe gets the text, not a screen)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        if lines:
            self.stream.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self.stream.write(self._partial)
            self._partial = ""
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", "utf-8")


def err(message: str, style: str = "red") -> None:
    """One diagnostic on stderr; control characters from names in it escaped (core/display.py)."""
    message = "\n".join(safe(line) for line in str(message).split("\n"))
    if "NO_COLOR" in os.environ or not sys.stderr.isatty():
        print(message, file=sys.stderr)
    else:
        console(stderr=True).print(message, style=style, markup=False, highlight=False)


def print_json(data: Any) -> None:
    """Indented for a terminal; compact for a pipe (indent makes json use its slow encoder)."""
    import json  # (here: a plain `jobs ls` with no runner never loads it, cli/jobs_ls.py)

    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, indent=indent, default=_json_default, ensure_ascii=True) + "\n")


def print_jsonl(rows: Iterable[Any]) -> None:
    import json

    write = sys.stdout.write
    for row in rows:
        write(json.dumps(row, default=_json_default, ensure_ascii=True) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "surrogateescape")
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return str(obj)



# ANSI SGR codes of the few rich style words the tables use.
_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35",
        "cyan": "36", "dark_orange": "38;5;208"}


def colour(stream=None) -> bool:
    return "NO_COLOR" not in os.environ and (stream or sys.stdout).isatty()


def paint(text: str, style: str | None, enabled: bool = True) -> str:
    if not enabled or not style or not text:
        return text
    return f"\x1b[{';'.join(_SGR[w] for w in style.split() if w in _SGR)}m{text}\x1b[0m"


def cell_width(text: str) -> int:
    """Terminal cells of a string: wide (East Asian) characters take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in text)


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` cells with an ellipsis."""
    if cell_width(text) <= width:
        return text
    out, used = [], 0
    for c in text:
        w = cell_width(c)
        if used + w > width - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def columns(headers: Sequence[str], rows: Iterable[Sequence[str]], *, right: Iterable[str] = (),
            styles: Sequence[Sequence[str | None]] | None = None, squeeze: str | None = None,
            max_width: dict[str, int] | None = None) -> None:
    """Print an aligned table to stdout, two spaces between columns, headers in bold.

    ``styles[i][j]`` styles cell j of row i. The ``squeeze`` column is cut with an
    ellipsis so that lines fit a terminal; on a pipe nothing is cut but ``max_width``."""
    rows = [[safe(c) for c in r] for r in rows]  # names may hold terminal escapes
    right, max_width = set(right), max_width or {}
    widths = [max([cell_width(h)] + [cell_width(r[j]) for r in rows]) for j, h in enumerate(headers)]
    for j, h in enumerate(headers):
        if h in max_width:
            widths[j] = min(widths[j], max(max_width[h], cell_width(h)))
    if sys.stdout.isatty():
        import shutil  # (a terminal's width; a pipe's listing skips the import)

        fit_widths(headers, widths, shutil.get_terminal_size().columns, squeeze)
    on = colour()

    def line(cells: Sequence[str], cell_styles: Sequence[str | None]) -> str:
        out = []
        for j, (text, width) in enumerate(zip(cells, widths, strict=False)):
            text = _fit(text, width)
            pad = " " * (width - cell_width(text))
            last = j == len(widths) - 1
            if headers[j] in right:
                out.append(pad + paint(text, cell_styles[j], on))
            else:
                out.append(paint(text, cell_styles[j], on) + ("" if last else pad))
        return "  ".join(out).rstrip() + "\n"

    write = sys.stdout.write
    write(line(headers, ["bold"] * len(headers)))
    for i, r in enumerate(rows):
        write(line(r, styles[i] if styles else [None] * len(r)))


def fit_widths(headers: Sequence[str], widths: list[int], total: int, squeeze: str | None = None) -> None:
    """Narrow ``widths`` (in place) until a line of them, two spaces apart, fits ``total`` cells:
    the ``squeeze`` column first, then the widest of the others, none below its header."""
    def over() -> int:
        return sum(widths) + 2 * (len(widths) - 1) - total

    if squeeze in headers and over() > 0:
        j = list(headers).index(squeeze)
        widths[j] = max(cell_width(squeeze), widths[j] - over())
    floors = [cell_width(h) for h in headers]
    while over() > 0:
        j = max(range(len(widths)), key=lambda k: widths[k] - floors[k])
        if widths[j] <= floors[j]:
            break
        widths[j] -= min(over(), widths[j] - floors[j], max(1, (widths[j] - floors[j]) // 2))


def human_age(ts: float | None) -> str:
    if not ts:
        return ""
    age = time.time() - ts
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if age >= size:
            return f"{int(age // size)}{unit} ago"
    return f"{int(age)}s ago"


def human_rate(rate: float | None, unit: str | None) -> str:
    if not rate:
        return ""
    if unit == "bytes":
        return human_bytes(rate) + "/s"
    if unit == "%":
        return f"{rate:.1f}%/s"
    return f"{rate:,.0f} {unit or 'items'}/s"


def progress_text(p: Any) -> str:
    """'1.5 GB / 3.2 GB', '3/10 files', '45%' or the message, from a Progress."""
    parts = []
    if p.total is not None or p.done is not None:
        parts.append(f"{p.done or 0:,}/{p.total:,} {p.unit}" if p.total else f"{p.done or 0:,} {p.unit}")
    if p.bytes_done is not None:
        parts.append(f"{human_bytes(p.bytes_done)} / {human_bytes(p.bytes_total)}" if p.bytes_total
                     else human_bytes(p.bytes_done))
    if not parts and p.percent is not None:
        parts.append(f"{p.percent:.0f}%")
    return " · ".join(parts)


def what(context: dict, *, program: bool = False) -> str:
    """What started a job: "schedule 3 (0 3 * * *)", or its command line, shell-quoted."""
    from ..core.action import describe

    return describe(context, program=program)


def shorten(text: str | bytes | None, width: int) -> str:
    """A path in at most ``width`` cells, cut from the left at a ``/`` so that the file name stays:
    '/home/ana/Photos/2021/IMG_0001.jpg' -> '…/2021/IMG_0001.jpg'. A name that alone is too long
    keeps its start and its end (the extension): 'holiday-in-the-…-2019.mp4'."""
    from ..fs.names import display_path

    text = display_path(text) if text else ""
    if cell_width(text) <= width:
        return text
    if width < 2:
        return "…"[:width]
    parts = text.split("/")
    name = parts.pop()
    kept = name
    for part in reversed(parts):
        if cell_width(part) + 1 + cell_width(kept) + 2 > width:
            break
        kept = f"{part}/{kept}"
    if kept != name or cell_width(name) + 2 <= width:
        return ("…/" if parts else "…") + kept
    return name if cell_width(name) <= width else _middle(name, width)


def _middle(text: str, width: int) -> str:
    """``text`` cut in the middle: its start, '…', its last third (the extension stays)."""
    tail_width = max(1, (width - 1) // 3)
    head = _fit(text, width - tail_width)[:-1]
    tail, used = "", 0
    for c in reversed(text):
        if used + cell_width(c) > width - 1 - cell_width(head):
            break
        tail, used = c + tail, used + cell_width(c)
    return head + "…" + tail
