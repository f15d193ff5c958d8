"""Sizes such as 10k, 1.5M, 2GiB."""

from __future__ import annotations

import re

from ..core.errors import BadInput, shown

_MULT = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
         "g": 1024**3, "gb": 1000**3, "gib": 1024**3, "t": 1024**4, "tb": 1000**4, "tib": 1024**4}


MAX_SIZE = 2**63 - 1  # what a job record (and SQLite) can hold


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _MULT:
        raise BadInput(f"bad size {shown(text)}: use a number with an optional unit, e.g. 10k, 1M, 2G")
    size = float(m.group(1)) * _MULT[m.group(2).lower()]
    if size > MAX_SIZE:
        raise BadInput(f"size {shown(text.strip())} is too large (at most 8 EiB)")
    return int(size)
