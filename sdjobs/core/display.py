"""Text from file names, made safe to print on a terminal.

A file name can hold any byte but NUL and "/": ``ESC ] 0 ; TITLE BEL`` retitles a terminal,
other sequences move the cursor, rewrite lines or worse. Like GNU ls on a terminal, text
shown to people has its control characters escaped: C0 (``\\x1b``, ``\\n`` ...), DEL, C1
(U+0080..U+009F), bytes that are not UTF-8 (``\\xff``) and the bidi controls that reorder a
line. ``--json`` keeps the exact text (JSON escapes it) and never comes through here.

``safe`` is for free text that may contain a name (messages, commands); ``path`` (the same,
backslashes doubled as well, fs/names.display_path) for a name alone.
"""

from __future__ import annotations

import os
import re

# C0, DEL, C1, lone surrogates (surrogateescape'd bytes) and the bidi/separator controls.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match) -> str:
    c = m.group()
    code = ord(c)
    if c in _NAMED:
        return _NAMED[c]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def safe(text: object) -> str:
    """``text`` as str with every control character escaped; plain text unchanged."""
    if isinstance(text, (bytes, os.PathLike)):
        text = os.fsdecode(os.fspath(text))
    s = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_escape, s)


def path(p: str | bytes | os.PathLike) -> str:
    """A name alone: as ``safe``, and a backslash doubled so the output is unambiguous."""
    from ..fs.names import display_path

    return display_path(p)

