"""How much deleting a path removes: its files, directories and bytes, every entry counted
(no skip rule applies: a deletion takes everything under it). The delete job counts its
targets with it, and the ``delete`` command asks its confirmation with the same numbers."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from collections.abc import Callable

from .rules import WalkRules
from .walker import walk

ALL = WalkRules(skip_system=False, skip_git=False, gitignore=False, skip_hidden=False, skip_deps=False)


@dataclass
class Tally:
    files: int = 0
    dirs: int = 0
    bytes: int = 0


def count(path: str, st: os.stat_result, on_error: Callable[[str, BaseException], None] | None = None) -> Tally:
    """Files (non-directories), directories and bytes that deleting ``path`` removes."""
    t = Tally()
    if not stat.S_ISDIR(st.st_mode):
        t.files, t.bytes = 1, st.st_size if stat.S_ISREG(st.st_mode) else 0
        return t
    t.dirs = 1
    for e in walk(path, ALL, on_error=on_error):
        if e.kind == "dir":
            t.dirs += 1
        else:
            t.files += 1
            t.bytes += e.size if e.kind == "file" else 0
    return t
