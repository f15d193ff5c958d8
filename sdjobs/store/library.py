"""Where a library lives: the SQLite file and the folder of files beside it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..core.errors import BadInput
from . import trust
from .libpath import ENV_VAR, RUNNER_LOG, data_dir_of, default_db_path, resolve_db_path  # noqa: F401  (ENV_VAR re-exported)


@dataclasses.dataclass(frozen=True)
class Library:
    """A library: ``db_path`` is the SQLite file; ``data_dir`` holds sidecar
    files (thumbnails, runner logs, locks) and sits next to it."""

    db_path: Path

    @property
    def data_dir(self) -> Path:
        return Path(data_dir_of(str(self.db_path)))

    @property
    def runner_log(self) -> Path:
        return self.data_dir / RUNNER_LOG

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "library.lock"

    def ensure_dirs(self) -> None:
        for d in (self.db_path.parent, self.data_dir):
            if not d.is_dir():
                d.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.check_trust()  # a data folder that was a planted symlink to a folder passes is_dir()

    def check_trust(self) -> None:
        """Refuse (BadInput, exit 2) a library someone else could write (store/trust.py)."""
        try:
            trust.check_library(str(self.db_path), str(self.data_dir))
        except trust.UntrustedLibrary as exc:
            raise BadInput(str(exc)) from None


def default_path() -> Path:
    return Path(default_db_path())


def resolve(path: str | os.PathLike | None = None) -> Library:
    """``--library`` beats ``$SDJOBS_LIBRARY`` beats the XDG default.

    A path naming an existing directory means ``library.db`` inside it."""
    return Library(Path(resolve_db_path(os.fspath(path) if path is not None else None)))
