"""Short texts and cells for the dashboard: plain data in, strings or rich Text out.

Everything that depends on the clock takes ``now`` so that a frozen clock
gives the same screen every time (snapshot tests).
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from ..core.display import safe
from ..core.humanize import human_bytes, human_duration  # noqa: F401  (re-exported)

# ANSI colour names only, so that the terminal's own palette decides the colours.
STATUS_STYLE = {
    "queued": "cyan", "running": "bold blue", "paused": "yellow", "completed": "green",
    "completed-with-errors": "yellow", "failed": "bold red", "cancelled": "magenta",
    "interrupted": "red",
}
# NO_COLOR: the same distinctions by text style alone (the terminal's own colours)
MONO_STATUS_STYLE = {
    "queued": "", "running": "bold", "paused": "italic", "completed": "", "completed-with-errors": "underline",
    "failed": "bold reverse", "cancelled": "dim", "interrupted": "bold underline",
}
_COLOUR_STATUS_STYLE = dict(STATUS_STYLE)
STATUS_LABEL = {"completed-with-errors": "done+errors"}


_MONO = [False]


def monochrome() -> bool:
    return _MONO[0]


def set_monochrome(on: bool) -> None:
    """Style statuses by bold/reverse/underline instead of colour (NO_COLOR)."""
    _MONO[0] = on
    STATUS_STYLE.clear()
    STATUS_STYLE.update(MONO_STATUS_STYLE if on else _COLOUR_STATUS_STYLE)
PENDING_LABEL = {"pause": "pausing…", "cancel": "cancelling…", "shutdown": "stopping…"}


def status_text(status: str, control: str | None = None) -> Text:
    label = STATUS_LABEL.get(status, status)
    if status == "running" and control in PENDING_LABEL:
        label = PENDING_LABEL[control]
    return Text(label, style=STATUS_STYLE.get(status, "dim"))


def compact_number(n: float) -> str:
    """1234 -> '1,234'; 1234567 -> '1.2M' (the table has little room)."""
    n = float(n)
    if abs(n) < 100_000:
        return f"{n:,.0f}"
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:,.0f}"






def human_age(ts: float | None, now: float) -> str:
    """'12s', '5m', '3h', '2d': coarse, so that an idle screen rarely changes."""
    if not ts:
        return ""
    age = max(0.0, now - ts)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if age >= size:
            return f"{int(age // size)}{unit}"
    return f"{int(age)}s"


def human_rate(rate: float | None, unit: str | None) -> str:
    if not rate or rate < 0:
        return ""
    if unit == "bytes":
        return human_bytes(rate) + "/s"
    if unit == "%":
        return f"{rate:.1f}%/s"
    if rate >= 10_000:
        amount = f"{rate / 1000:.0f}k" if rate < 1e6 else f"{rate / 1e6:.1f}M"
    elif rate >= 1000:
        amount = f"{rate / 1000:.1f}k"
    else:
        amount = f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}"
    return f"{amount} {unit or 'items'}/s"


def done_text(p: Any) -> str:
    """'3/10 steps', '1.5/3.2 GB', '45%' or '', from a Progress (compact)."""
    if p.total:
        return f"{compact_number(p.done or 0)}/{compact_number(p.total)} {p.unit}"
    if p.bytes_total:
        total = human_bytes(p.bytes_total)
        num, unit = total.split(" ")
        done = human_bytes(p.bytes_done or 0)
        if done.endswith(" " + unit):
            done = done.split(" ")[0]
        return f"{done}/{num} {unit}"
    if p.done is not None:
        return f"{compact_number(p.done)} {p.unit}"
    if p.bytes_done is not None:
        return human_bytes(p.bytes_done)
    if p.percent is not None:
        return f"{p.percent:.0f}%"
    return ""


def full_progress_text(p: Any) -> str:
    """The long form for the detail screen: every amount the job reported."""
    parts = []
    if p.total is not None or p.done is not None:
        parts.append(f"{p.done or 0:,}/{p.total:,} {p.unit}" if p.total else f"{p.done or 0:,} {p.unit}")
    if p.bytes_done is not None:
        parts.append(f"{human_bytes(p.bytes_done)} / {human_bytes(p.bytes_total)}" if p.bytes_total
                     else human_bytes(p.bytes_done))
    if p.percent is not None:
        parts.append(f"{p.percent:.1f}%")
    return " · ".join(parts)


BAR_FULL, BAR_EMPTY = "█", "░"
_PARTS = " ▏▎▍▌▋▊▉"


def progress_bar(fraction: float | None, width: int = 7, *, status: str = "running") -> Text:
    """A bar with eighth-cell resolution and the percentage: '█████▍░ 78%'."""
    style = STATUS_STYLE.get(status, "")
    if fraction is None:
        if status == "running":
            return Text("·" * width + "    ", style="dim")
        return Text("")
    fraction = max(0.0, min(1.0, fraction))
    eighths = int(round(fraction * width * 8))
    full, part = divmod(eighths, 8)
    bar = BAR_FULL * full + (_PARTS[part] if part and full < width else "")
    text = Text(bar, style=style)
    text.append(BAR_EMPTY * (width - len(bar)), style="dim")
    text.append(f"{fraction * 100:4.0f}%")
    return text


def timestamp(ts: float | None) -> str:
    if not ts:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def clock(ts: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else ""


def started_by(context: Any, parent_id: int | None) -> str:
    """What created the job: its command line, a schedule, or its parent job."""
    if parent_id:
        return f"child of {parent_id}"
    if not isinstance(context, dict):
        return ""
    argv = context.get("argv") or []
    if isinstance(argv, (list, tuple)) and argv:
        words = [str(a) for a in argv]
        if words[0].rsplit("/", 1)[-1] in ("sdjobs", "__main__.py", "-m"):
            words = words[1:]
        return safe(" ".join(words))
    for key in ("schedule", "source", "by"):
        if context.get(key):
            return safe(f"{key}: {context[key]}")
    return ""


def plain(text: object, style: str = "") -> Text:
    """Text from a job or a file name for a cell: no markup read, control characters escaped
    (a DataTable reads a str cell as markup; a terminal obeys the escapes in a name)."""
    return Text(safe(text), style=style)


def display(path: str | bytes) -> str:
    """A path as printable text (non-UTF-8 bytes and control characters escaped)."""
    from ..fs.names import display_path

    return display_path(path)


def short_path(text: str | bytes | None, width: int) -> str:
    """A path cut from the left, keeping the file name (see cli.output.shorten)."""
    from ..cli.output import shorten

    return shorten(text, width)


def count(n: int, word: str) -> str:
    """'1 file', '2 files', '1,204 errors'."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def issue_count(errors: int, warnings: int) -> str:
    parts = [count(errors, "error")] if errors else []
    if warnings:
        parts.append(count(warnings, "warning"))
    return ", ".join(parts)


ARROW = " → "


def what_text(sources: tuple[str, ...], dest: str, width: int) -> str:
    """'src → dest' or the paths, in ``width`` cells: each path cut from the left, keeping its file name."""
    from ..cli.output import cell_width, shorten

    if not sources and not dest:
        return ""
    first = sources[0] if sources else ""
    more = f" +{len(sources) - 1}" if len(sources) > 1 else ""
    if not dest:
        return shorten(first, max(1, width - len(more))) + more
    if not first:
        return ARROW.strip() + " " + shorten(dest, max(1, width - 2))
    room = max(2, width - len(ARROW) - len(more))
    src_w = min(cell_width(first), max(room // 2, room - cell_width(dest)))
    dst_w = max(1, room - src_w)
    src = shorten(first, src_w)
    return src + more + ARROW + shorten(dest, dst_w + (src_w - cell_width(src)))


def toast(verb: str, result: str) -> str:
    """A control verb's answer as a sentence: 'already paused' -> 'Already paused.'"""
    result = result.strip()
    return (result[:1].upper() + result[1:]) + ("" if result.endswith((".", ")", "!", "?")) else ".")
