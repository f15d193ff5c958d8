"""Where a library lives: the SQLite file and the folder of files beside it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

ENV_VAR = "SDJOBS_LIBRARY"


@dataclasses.dataclass(frozen=True)
class Library:
    """A library: ``db_path`` is the SQLite file; ``data_dir`` holds sidecar
    files (thumbnails, runner logs, locks) and sits next to it."""

    db_path: Path

    @property
    def data_dir(self) -> Path:
        return self.db_path.with_name(self.db_path.stem + "-data")

    @property
    def runner_log(self) -> Path:
        return self.data_dir / "runner.log"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "library.lock"

    def ensure_dirs(self) -> None:
        for d in (self.db_path.parent, self.data_dir):
            if not d.is_dir():
                d.mkdir(parents=True, exist_ok=True, mode=0o700)


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "sdjobs" / "library.db"


def resolve(path: str | os.PathLike | None = None) -> Library:
    """``--library`` beats ``$SDJOBS_LIBRARY`` beats the XDG default.

    A path naming an existing directory means ``library.db`` inside it."""
    raw = path if path not in (None, "") else os.environ.get(ENV_VAR) or None
    p = Path(raw).expanduser() if raw else default_path()
    if p.is_dir():
        p = p / "library.db"
    return Library(p.absolute())
