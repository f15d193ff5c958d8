"""core/display.safe: what reaches a terminal from a name."""

from __future__ import annotations

import pytest

from sdjobs.core.display import safe


@pytest.mark.parametrize("raw, shown", [
    ("plain name.txt", "plain name.txt"),
    ("tab\there", "tab\\there"),
    ("line\nbreak\r", "line\\nbreak\\r"),
    ("\x1b]0;TITLE\x07", "\\x1b]0;TITLE\\x07"),
    ("del\x7f", "del\\x7f"),
    ("c1\x9b2J\x85", "c1\\x9b2J\\x85"),
    (b"bad\xffbyte", "bad\\xffbyte"),
    ("bidi\u202eevil", "bidi\\u202eevil"),
    ("wide 日本 é [bold]", "wide 日本 é [bold]"),
    ("back\\slash", "back\\slash"),  # free text: a backslash stays (names alone: fs/names.display_path)
])
def test_safe_escapes_control_characters_only(raw, shown):
    assert safe(raw) == shown


def test_every_control_character_is_escaped():
    for code in [*range(0x20), *range(0x7f, 0xa0)]:
        out = safe(f"a{chr(code)}b")
        assert out.isprintable() and out.startswith("a\\") and out.endswith("b"), (code, out)
