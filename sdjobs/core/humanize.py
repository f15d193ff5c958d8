"""Numbers for humans: sizes and durations, shared by the CLI, the dashboard and job summaries."""

from __future__ import annotations


def human_bytes(n: float | None) -> str:
    """1234567 -> '1.2 MB' (decimal units, as file managers show them)."""
    if n is None:
        return ""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def human_duration(seconds: float | None) -> str:
    """75 -> '1:15', 3700 -> '1:01:40', 200000 -> '2d7h'."""
    if seconds is None:
        return ""
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h >= 48:
        return f"{h // 24}d{h % 24}h"
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """A count with its noun: '1 file', '0 files', '1,234 files'; ``many`` where
    it is not ``one`` + 's' ('1 entry', '2 entries')."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
