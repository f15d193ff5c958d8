"""What a running job knows of its library (``ctx.library``), whatever stores it."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class LibraryInfo:
    """The library a job runs in. ``id``: its stable identity (32 hex digits, made with
    the library: the same wherever it is moved, different for another library at the
    same path); ``path``: where the library is (a SQLite file today); ``data_dir``: the
    folder of files kept beside it (thumbnails, caches); ``data``: the data plane, the
    verbs of the index, dupes and thumbs tables (``store/data_plane.py``; engine-internal
    for now, not part of ``sdjobs.api``).

    A job's result rows are written with ``ctx.emit`` (they belong to the job, in this
    library)."""

    id: str
    path: str
    data_dir: str
    data: Any = dataclasses.field(repr=False, compare=False)
