"""Showing file names to people, and spotting names that cause trouble.

Paths are str with surrogateescape (what `os` gives for str paths): a byte
that is not valid UTF-8 shows up as a lone surrogate U+DC80..U+DCFF.
"""

from __future__ import annotations

import os
import unicodedata

NAME_MAX = 255

NOT_UTF8 = "not valid UTF-8"
CONTROL_CHARS = "contains control characters"
TOO_LONG = "longer than 255 bytes"

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Characters that reorder or hide text on a terminal (bidi controls, line and
# paragraph separators), escaped so a name cannot disguise itself.
_INVISIBLE = frozenset(
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\ufeff"
)


def _escape_char(c: str) -> str:
    code = ord(c)
    if c in _NAMED:
        return _NAMED[c]
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape'd byte
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def _needs_escape(c: str) -> bool:
    return c == "\\" or c in _INVISIBLE or unicodedata.category(c) in ("Cc", "Cs")


def display_path(p: str | bytes | os.PathLike[str]) -> str:
    """Printable form of a path: non-UTF-8 bytes as `\\xff`, control
    characters as `\\n`, `\\t`, `\\x1b`..., bidi controls as `\\u202e`, and a
    backslash doubled so the output is unambiguous. Plain names come back
    unchanged."""
    s = os.fsdecode(os.fspath(p))
    if s.isprintable() and "\\" not in s:
        return s
    return "".join(_escape_char(c) if _needs_escape(c) else c for c in s)


def name_problems(name: str | bytes) -> list[str]:
    """What is wrong with a single name component, as short phrases:
    NOT_UTF8, CONTROL_CHARS, TOO_LONG. Empty list for a clean name."""
    raw = os.fsencode(name)
    problems: list[str] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(NOT_UTF8)
        text = raw.decode("utf-8", "surrogateescape")
    if any(unicodedata.category(c) == "Cc" for c in text):
        problems.append(CONTROL_CHARS)
    if len(raw) > NAME_MAX:
        problems.append(TOO_LONG)
    return problems
