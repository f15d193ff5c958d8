"""Where a library lives, with os.path alone: the command-line entry point (cli/launch.py)
needs this before it decides whether to import anything heavier.

A library is named by a path (a SQLite file) or by a PostgreSQL URL
(``postgresql://user@host/db``). A PostgreSQL library's local files (the command server's
socket, the runner's log and lock, sidecars) live in a folder of this host's XDG data home
keyed by a hash of the URL without its password: ``$XDG_DATA_HOME/sdjobs/postgres/<16 hex>``.
"""


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
        if is_postgres(raw):
            return raw
    p = os.path.expanduser(raw) if raw else default_db_path()
    if os.path.isdir(p):
        p = os.path.join(p, "library.db")
    return p if os.path.isabs(p) else os.path.join(os.getcwd(), p)  # like Path.absolute(): no ".." folding


class UnsupportedLibrary(BadInput):
    """The library is named by a URL (``scheme://...``) that sdjobs cannot open."""


POSTGRES_SCHEMES = ("postgresql", "postgres")


def _scheme(raw: str) -> str | None:
    scheme, sep, _ = raw.partition("://")
    if not sep or not scheme[:1].isalpha() or not all(c.isascii() and (c.isalnum() or c in "+.-") for c in scheme):
        return None  # RFC 3986's scheme syntax; anything else before "://" is part of a path
    return scheme.lower()


def is_postgres(name: str) -> bool:
    """``name`` is a PostgreSQL URL (``postgresql://`` or ``postgres://``), not a path."""
    return _scheme(name) in POSTGRES_SCHEMES


def check_not_url(raw: str) -> None:
    """A library named ``scheme://...`` is a path only if the scheme is not one: taken as one,
    ``mysql://h/db`` would become a folder ``mysql:`` here with a SQLite library in it.
    PostgreSQL URLs pass (``is_postgres``); any other scheme is refused."""
    scheme = _scheme(raw)
    if scheme is None or scheme in POSTGRES_SCHEMES:
        return
    raise UnsupportedLibrary(f"unknown library scheme {scheme!r}: a library is the path of a SQLite file"
                             " or a postgresql:// URL")


def without_password(url: str) -> str:
    """The URL as it may be shown or hashed: its password (``user:secret@``, ``password=``) dropped."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hosts = netloc.rpartition("@")
            netloc = userinfo.partition(":")[0] + "@" + hosts
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"],
                          safe="/")
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return url.split("://", 1)[0] + "://..."


def data_dir_of(db_path: str) -> str:
    """The folder of sidecar files next to the SQLite file: ``library.db`` -> ``library-data``;
    for a PostgreSQL URL, a folder of this host's XDG data home keyed by the URL (no password)."""
    if is_postgres(db_path):
        import hashlib  # (only here: 3 ms of every command's start)

        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        key = hashlib.sha256(without_password(db_path).encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return os.path.join(base, "sdjobs", "postgres", key)
    head, name = os.path.split(db_path)
    dot = name.rfind(".")
    stem = name[:dot] if 0 < dot < len(name) - 1 else name  # pathlib's stem
    return os.path.join(head, stem + "-data")
