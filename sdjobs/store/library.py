"""Where a library lives: the SQLite file and the folder of files beside it, or a PostgreSQL
database and a folder of this host's (``PostgresLibrary``)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..core.errors import BadInput
from ..core.plain import Plain
from . import trust
from .libpath import (ENV_VAR, RUNNER_LOG, data_dir_of, default_db_path, is_postgres,  # noqa: F401  (ENV_VAR re-exported)
                      resolve_db_path, without_password)


class _LocalFolder(Plain):
    """What a library keeps in its local data folder (``data_dir``), whatever holds its data.
    A value: equal to, and hashed like, another of its kind that names the same library."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash((type(self), *self.as_dict().values()))

    @property
    def data_dir(self) -> Path:  # (each kind of library says where)
        raise NotImplementedError

    @property
    def runner_log(self) -> Path:
        return self.data_dir / RUNNER_LOG

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "library.lock"


class Library(_LocalFolder):
    """A library: ``db_path`` is the SQLite file; ``data_dir`` holds sidecar
    files (thumbnails, runner logs, locks) and sits next to it."""

    __slots__ = ("db_path",)

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    @property
    def data_dir(self) -> Path:
        return Path(data_dir_of(str(self.db_path)))

    def file_identity(self) -> tuple[int, int] | None:
        """Which file ``db_path`` names now (device, inode); None when there is none."""
        try:
            st = os.stat(self.db_path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino) if st.st_nlink else None

    def replaced_since(self, opened: tuple[int, int] | None) -> bool:
        """The library file opened as ``opened`` was deleted, or another took its name: a
        process that keeps using it writes to a file nobody else will ever read."""
        return opened is not None and self.file_identity() != opened

    def damage(self) -> str | None:
        """How the file at ``db_path`` stopped being an SQLite database, or None: cut short of
        its 100-byte header. A WAL library keeps its first page in this file whatever its WAL
        holds (SQLite discards the WAL of an empty file), so a library that short is damaged,
        never merely new and still in its WAL. Only a stat: opening and closing the file would
        drop the POSIX locks of every SQLite connection this process has on it."""
        try:
            st = os.stat(self.db_path)
        except OSError:
            return None  # gone or unreachable: replaced_since and the open say so
        if stat.S_ISREG(st.st_mode) and st.st_size < SQLITE_HEADER_SIZE:
            return f"truncated to {st.st_size} bytes"
        return None

    def lost_since(self, opened: tuple[int, int] | None) -> str | None:
        """Why a process that opened the library as ``opened`` must stop using it: the file was
        deleted, replaced, truncated or overwritten (whatever it writes would be read by no
        one); None while it is the same, sound file."""
        if self.replaced_since(opened):
            return "was deleted or replaced"
        why = self.damage()
        return f"was damaged ({why})" if why else None

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


class PostgresLibrary(_LocalFolder):
    """A library in a PostgreSQL database, named by its URL. ``db_path`` is the URL (what a
    runner hands its processes); ``data_dir`` is a folder of this host's, keyed by the URL
    without its password (``libpath.data_dir_of``): the runner's log and lock, the command
    server's socket. There is no file to lose: the server keeps the data."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def db_path(self) -> str:
        return self.url

    @property
    def shown(self) -> str:
        """The URL as messages show it: without its password."""
        return without_password(self.url)

    @property
    def data_dir(self) -> Path:
        return Path(data_dir_of(self.url))

    def file_identity(self) -> None:
        return None

    def replaced_since(self, opened: object) -> bool:
        return False

    def damage(self) -> None:
        return None

    def lost_since(self, opened: object) -> None:
        return None

    def ensure_dirs(self) -> None:
        if not self.data_dir.is_dir():
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.check_trust()

    def check_trust(self) -> None:
        try:
            trust.check_library(self.url, str(self.data_dir))
        except trust.UntrustedLibrary as exc:
            raise BadInput(str(exc)) from None


AnyLibrary = Library | PostgresLibrary


def default_path() -> Path:
    return Path(default_db_path())


def resolve(path: str | os.PathLike | None = None) -> AnyLibrary:
    """``--library`` beats ``$SDJOBS_LIBRARY`` beats the XDG default.

    A path naming an existing directory means ``library.db`` inside it; a PostgreSQL URL
    names a PostgreSQL library."""
    return named(resolve_db_path(os.fspath(path) if path is not None else None))


def named(name: str | os.PathLike) -> AnyLibrary:
    """The library a resolved name (a path, or a PostgreSQL URL) stands for."""
    name = os.fspath(name)
    return PostgresLibrary(name) if is_postgres(name) else Library(Path(name))


# -- why a library cannot be used ---------------------------------------------------------

class LibraryUnusable(BadInput):
    """The library cannot be used: not a database, out of reach, or on a full disk."""


class LibraryUnreachable(LibraryUnusable):
    """The library's server cannot be reached now (down, restarting, the network): unlike a
    damaged file, it may come back, and a runner and its jobs wait for it (runner/patience.py)."""


DISK_FULL = "database or disk is full"  # SQLite's words for SQLITE_FULL
SQLITE_HEADER_SIZE = 100


class LibraryLost(BaseException):
    """The library a job process works for was deleted, replaced or damaged under it: the job
    stops for good (no record is left to resume it from) and removes its temporaries. A
    BaseException, like an interrupt, so that a job's ``except Exception`` does not swallow it."""


def check_openable(library: Library) -> None:
    """Refuse what SQLite would open wrongly or fail on obscurely: a library path that
    names a device, a FIFO or a folder."""
    try:
        st = os.stat(library.db_path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise unusable(library, exc) from None
    if not stat.S_ISREG(st.st_mode):
        raise LibraryUnusable(f"the library {library.db_path} is not a regular file")
    why = library.damage()
    if why and any(os.path.exists(f"{library.db_path}{s}") for s in ("-wal", "-shm")):
        # Opened, SQLite would take it for a new, empty database, discard the WAL that a live
        # runner is using, then wait on that runner's lock (60 s) to make it a library again.
        raise LibraryUnusable(f"cannot use the library {library.db_path}: it was damaged ({why}) while in"
                              " use; restore it from a backup, or remove it (and its -wal and -shm files)"
                              " to start an empty library")


def storage_fault(exc: BaseException, library: AnyLibrary) -> LibraryUnusable | None:
    """A SQLite error that says the library's storage failed (full disk, I/O error, a file
    gone bad), as one line; None for any other error (and for a PostgreSQL library)."""
    import sqlite3

    if isinstance(library, PostgresLibrary):
        return None
    text = str(exc)
    if not (isinstance(exc, sqlite3.Error) or type(exc).__module__ == "peewee"):
        return None
    if DISK_FULL in text or "disk I/O error" in text or "not a database" in text or "malformed" in text:
        return unusable(library, exc)
    return None


def unusable(library: Library, exc: BaseException) -> LibraryUnusable:
    """One line that says why ``library`` cannot be used, from what SQLite or the system said."""
    db = library.db_path
    text = str(exc)
    if DISK_FULL in text or getattr(exc, "errno", None) == errno.ENOSPC:
        return LibraryUnusable(f"library disk is full: {db} cannot be written")
    if "disk I/O error" in text:
        return LibraryUnusable(f"cannot use the library {db}: disk I/O error (removed, truncated or its disk failing?)")
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        return LibraryUnusable(f"{db} is not an sdjobs library, or is damaged ({text})")
    if isinstance(exc, PermissionError) or "unable to open" in text or "readonly" in text:
        for path, mode, what in ((db, os.R_OK | os.W_OK, "the library"),
                                 (db.parent, os.W_OK | os.X_OK, "the library's folder"),
                                 (library.data_dir, os.W_OK | os.X_OK, "the library's data folder")):
            if os.path.exists(path) and not os.access(path, mode):
                return LibraryUnusable(f"cannot use the library {db}: permission denied on {what} {path}")
        if isinstance(exc, OSError) and exc.filename:
            return LibraryUnusable(f"cannot use the library {db}: {exc.strerror}: {exc.filename}")
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return LibraryUnusable(f"cannot use the library {db}: {exc.strerror}{where}")
    return LibraryUnusable(f"cannot use the library {db}: {text}")
