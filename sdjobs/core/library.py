"""What a running job knows of its library (``ctx.library``), whatever stores it."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class LibraryInfo:
    """``path``: where the library is (a SQLite file today); ``data_dir``: the folder of
    files kept beside it (thumbnails, caches); ``data``: the data plane, the verbs of the
    index, dupes and thumbs tables (``store/data_plane.py``)."""

    path: str
    data_dir: str
    data: Any
