"""Tests for sdjobs.fs.names."""

from __future__ import annotations

import os

import pytest

from sdjobs.fs.names import CONTROL_CHARS, NOT_UTF8, TOO_LONG, display_path, name_problems


def fs(b: bytes) -> str:
    return os.fsdecode(b)


@pytest.mark.parametrize("raw,shown", [
    (b"/home/u/plain.txt", "/home/u/plain.txt"),
    ("/home/u/caf\u00e9 \U0001F600.txt".encode(), "/home/u/caf\u00e9 \U0001F600.txt"),
    (b"/d/caf\xe9.txt", "/d/caf\\xe9.txt"),
    (b"/d/\xff\xfe", "/d/\\xff\\xfe"),
    (b"line\nbreak\ttab\rcr", "line\\nbreak\\ttab\\rcr"),
    (b"esc\x1b[31m", "esc\\x1b[31m"),
    (b"nul\x01del\x7f", "nul\\x01del\\x7f"),
    ("c1\u0085".encode(), "c1\\x85"),
    ("rtl\u202etxt.exe".encode(), "rtl\\u202etxt.exe"),
    ("sep\u2028x".encode(), "sep\\u2028x"),
    (b"back\\slash", "back\\\\slash"),
])
def test_display_path(raw, shown):
    assert display_path(fs(raw)) == shown
    assert display_path(raw) == shown


def test_display_path_is_printable_and_unambiguous():
    a = display_path(fs(b"x\xff"))
    b = display_path("x\\xff")
    assert a != b
    assert a.isprintable() and b.isprintable()


def test_display_path_accepts_pathlike(tmp_path):
    assert display_path(tmp_path) == str(tmp_path)


def test_name_problems_clean():
    assert name_problems("ok.txt") == []
    assert name_problems("caf\u00e9") == []
    assert name_problems("a" * 255) == []
    assert name_problems("\u00e9" * 127) == []  # 254 bytes


def test_name_problems_each():
    assert name_problems(fs(b"caf\xe9")) == [NOT_UTF8]
    assert name_problems(b"caf\xe9") == [NOT_UTF8]
    assert name_problems("a\nb") == [CONTROL_CHARS]
    assert name_problems("a" * 256) == [TOO_LONG]
    assert name_problems("\u00e9" * 128) == [TOO_LONG]  # 128 chars, 256 bytes


def test_name_problems_all_at_once():
    assert name_problems(b"\xff\x07" + b"x" * 300) == [NOT_UTF8, CONTROL_CHARS, TOO_LONG]
