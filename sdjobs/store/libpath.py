"""Where a library lives, with os.path alone: the command-line entry point (cli/launch.py)
needs this before it decides whether to import anything heavier."""


import os

from ..core.errors import BadInput

ENV_VAR = "SDJOBS_LIBRARY"
SERVER_SOCKET = "cli.sock"  # the command server's socket, in the data directory
RUNNER_LOG = "runner.log"  # background runners' output, in the data directory


def default_db_path() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "sdjobs", "library.db")


def resolve_db_path(raw: str | None = None) -> str:
    """``--library`` beats ``$SDJOBS_LIBRARY`` beats the XDG default; an existing directory
    means ``library.db`` inside it. Absolute; neither symlinks nor ".." are resolved."""
    raw = raw if raw not in (None, "") else os.environ.get(ENV_VAR) or None
    if raw:
        check_not_url(raw)
    p = os.path.expanduser(raw) if raw else default_db_path()
    if os.path.isdir(p):
        p = os.path.join(p, "library.db")
    return p if os.path.isabs(p) else os.path.join(os.getcwd(), p)  # like Path.absolute(): no ".." folding


class UnsupportedLibrary(BadInput):
    """The library is named by a URL (``scheme://...``) that sdjobs cannot open."""


POSTGRES_SCHEMES = ("postgresql", "postgres")


def check_not_url(raw: str) -> None:
    """A library named ``scheme://...`` is not a path: taken as one, ``postgresql://h/db`` would
    become a folder ``postgresql:`` here with a SQLite library in it."""
    scheme, sep, _ = raw.partition("://")
    if not sep or not scheme[:1].isalpha() or not all(c.isascii() and (c.isalnum() or c in "+.-") for c in scheme):
        return  # RFC 3986's scheme syntax; anything else before "://" is part of a path
    if scheme.lower() in POSTGRES_SCHEMES:
        raise UnsupportedLibrary("PostgreSQL libraries are not supported yet (issue 18)")
    raise UnsupportedLibrary(f"unknown library scheme {scheme!r}: a library is the path of a SQLite file")


def data_dir_of(db_path: str) -> str:
    """The folder of sidecar files next to the SQLite file: ``library.db`` -> ``library-data``."""
    head, name = os.path.split(db_path)
    dot = name.rfind(".")
    stem = name[:dot] if 0 < dot < len(name) - 1 else name  # pathlib's stem
    return os.path.join(head, stem + "-data")
