"""Rendering: plain data in, JSON on stdout, or text for humans.

JSON never passes through rich, and neither do the list tables (`columns`):
importing and laying out a rich Table costs more than the rest of `jobs ls`.
Colour follows NO_COLOR and the terminal.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import unicodedata
from typing import Any, Iterable, Sequence
from ..core.display import safe
from ..core.humanize import human_bytes, human_duration  # noqa: F401  (re-exported)

STATUS_STYLE = {
    "queued": "cyan", "running": "bold blue", "paused": "yellow", "completed": "green",
    "completed-with-errors": "dark_orange", "failed": "bold red", "cancelled": "magenta",
    "interrupted": "red",
}


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False, soft_wrap=False,
                   width=None if stream.isatty() else 400)


def err(message: str, style: str = "red") -> None:
    """One diagnostic on stderr; control characters from names in it escaped (core/display.py)."""
    message = "\n".join(safe(line) for line in str(message).split("\n"))
    if "NO_COLOR" in os.environ or not sys.stderr.isatty():
        print(message, file=sys.stderr)
    else:
        console(stderr=True).print(message, style=style, markup=False, highlight=False)


def print_json(data: Any) -> None:
    """Indented for a terminal; compact for a pipe (indent makes json use its slow encoder)."""
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, indent=indent, default=_json_default, ensure_ascii=True) + "\n")


def print_jsonl(rows: Iterable[Any]) -> None:
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
    tty = sys.stdout.isatty()
    if squeeze in headers and tty:
        j = list(headers).index(squeeze)
        spare = shutil.get_terminal_size().columns - (sum(widths) + 2 * (len(widths) - 1))
        if spare < 0:
            widths[j] = max(cell_width(squeeze), widths[j] + spare)
    on = colour()

    def line(cells: Sequence[str], cell_styles: Sequence[str | None]) -> str:
        out = []
        for j, (text, width) in enumerate(zip(cells, widths)):
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


def shorten(text: str, width: int) -> str:
    from ..fs.names import display_path

    text = display_path(text) if text else ""
    return text if len(text) <= width else "…" + text[-(width - 1):]
