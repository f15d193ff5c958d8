"""Duplicate groups dupes worked out from a location's stored hashes, kept beside the
library (``<library>-data/dupes-groups/``) from one run to the next (``jobs/dupes/cache.py``
says what they hold and when they count).

Per location and query ``name``, three files: ``.head`` (what makes the others count:
written last), ``.groups`` and ``.json`` (the groups as the results file's text, handed
out as a path). Any index run of the location drops them (``forget``): its entries change.
"""

from __future__ import annotations

import os
from pathlib import Path

from .libpath import data_dir_of

KEEP_PER_LOCATION = 8   # queries kept per location (the least recently written go)
_SUFFIXES = (".head", ".groups", ".json")


def groups_dir(db: str | os.PathLike) -> Path:
    """In the library's data folder (``libpath.data_dir_of``: a PostgreSQL URL is no path)."""
    return Path(data_dir_of(os.fspath(db))) / "dupes-groups"


class KeptGroups:
    """The kept groups of one library (a folder's name only: picklable): those of the SQLite
    library at ``db_path``, or those under a library's ``data_dir`` (any backend)."""

    def __init__(self, db_path: str | os.PathLike | None = None, *, data_dir: str | os.PathLike | None = None) -> None:
        if data_dir is not None:
            self.dir = Path(data_dir) / "dupes-groups"
        elif db_path is not None:
            self.dir = groups_dir(db_path)
        else:
            raise TypeError("KeptGroups needs db_path or data_dir")

    def _base(self, location_id: int, name: str) -> Path:
        return self.dir / f"{int(location_id)}-{name}"

    def _read(self, location_id: int, name: str, suffix: str) -> bytes | None:
        try:
            with open(self._base(location_id, name).with_suffix(suffix), "rb") as f:
                return f.read()
        except OSError:
            return None

    def head(self, location_id: int, name: str) -> bytes | None:
        return self._read(location_id, name, ".head")

    def groups(self, location_id: int, name: str) -> bytes | None:
        return self._read(location_id, name, ".groups")

    def json_path(self, location_id: int, name: str) -> str:
        """The groups as JSON text, a file a results entry may point to."""
        return str(self._base(location_id, name).with_suffix(".json"))

    def write(self, location_id: int, name: str, head: bytes, groups: bytes, json: bytes) -> None:
        base = self._base(location_id, name)
        base.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write(base.with_suffix(".groups"), groups)
        _write(base.with_suffix(".json"), json)
        _write(base.with_suffix(".head"), head)  # last: it is what makes the others count
        self._prune(location_id)

    def forget(self, location_id: int) -> None:
        """Drop the groups kept for a location: its entries are about to change, or did."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        for name in names:
            if name.startswith(f"{location_id}-"):
                try:
                    os.unlink(self.dir / name)
                except OSError:
                    pass

    def _prune(self, location_id: int) -> None:
        heads = []
        for name in os.listdir(self.dir):
            if name.startswith(f"{location_id}-") and name.endswith(".head"):
                try:
                    heads.append((os.stat(self.dir / name).st_mtime_ns, name[:-5]))
                except OSError:
                    pass
        heads.sort()
        for _mtime, stem in heads[:-KEEP_PER_LOCATION]:
            for suffix in _SUFFIXES:
                try:
                    os.unlink(self.dir / (stem + suffix))
                except OSError:
                    pass


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
