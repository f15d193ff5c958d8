"""Rendering: plain data in, JSON on stdout or rich tables for humans.

JSON never passes through rich. Colour follows NO_COLOR and the terminal.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Iterable
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


def what(context: dict) -> str:
    argv = context.get("argv") or []
    if argv and os.path.basename(str(argv[0])) in ("sdjobs", "__main__.py", "-m"):
        argv = argv[1:]
    return " ".join(str(a) for a in argv)


def shorten(text: str, width: int) -> str:
    from ..fs.names import display_path

    text = display_path(text) if text else ""
    return text if len(text) <= width else "…" + text[-(width - 1):]
