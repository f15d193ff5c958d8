"""``PgStore``: the job plane on PostgreSQL, with the SQL of SQLite's ``Store``.

Every verb is ``Store``'s own; only the dialect hooks of ``store/api.py`` differ:

- statements go through ``dialect.pyformat`` (qmark to psycopg's placeholders, cached);
- transactions are plain ``BEGIN`` (READ COMMITTED): a SELECT whose rows the transaction
  then writes takes them ``FOR UPDATE``, and the claim ``FOR UPDATE SKIP LOCKED``, so two
  runners claiming at once take different jobs without waiting for each other;
- new ids come back with ``RETURNING id``;
- the time of leases and heartbeats is the database's (``clock_timestamp()``, read every
  30 s and carried forward on the monotonic clock), never a host's wall clock: runners on
  several hosts compare them;
- ``data_version`` is a change counter that the job plane's tables bump (triggers,
  ``pg/schema.py``) plus the NOTIFYs they send at commit, heard on a LISTEN connection of
  this thread's; ``wait_changed`` sleeps on that connection's socket until one comes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ...core.errors import NotFound, SdjobsError
from ..api import Store
from ..library import LibraryUnreachable, LibraryUnusable, PostgresLibrary
from ..peewee_lazy import with_psycopg
from . import schema as pg_schema
from .dialect import pyformat

pw = with_psycopg()  # peewee itself, handed the driver
import psycopg  # noqa: E402  (after peewee was handed the driver, like peewee's own import)

CONNECT_TIMEOUT = 10  # seconds, unless the URL says
CLOCK_RESYNC = 30.0  # seconds between two readings of the database's clock (``PgStore._now``)


_PostgresqlDatabase: Any = pw.PostgresqlDatabase


class PgDatabase(_PostgresqlDatabase):
    """peewee's PostgreSQL database on psycopg 3: one connection per thread, in autocommit
    between the transactions ``atomic()`` opens."""

    def __init__(self, url: str) -> None:
        params: dict[str, Any] = {"application_name": "sdjobs"}
        if "connect_timeout" not in url:
            params["connect_timeout"] = CONNECT_TIMEOUT
        # (peewee hands psycopg a URL only when it says postgresql://: any other is taken for a
        # database's name, and the server's address in it is lost)
        super().__init__("postgresql://" + url.partition("://")[2], prefer_psycopg3=True, **params)

    def cursor(self, named_cursor=None):
        """A connection the server dropped (it restarted, the network failed, an admin ended
        the session) is replaced by the next statement outside a transaction: the one that
        met the loss failed, and said so; the store goes on once the server is back."""
        if not self.is_closed() and self._state.conn.broken and not self.in_transaction():
            self.close()
        return super().cursor(named_cursor)

    def rollback(self):
        """A transaction whose connection was lost is gone with it: no ROLLBACK can be sent,
        and trying would replace the error that says what happened."""
        if not self.is_closed() and self._state.conn.broken:
            return
        super().rollback()


def unreachable(library: PostgresLibrary, exc: BaseException,
                kind: type[LibraryUnusable] = LibraryUnusable) -> LibraryUnusable:
    """One line that says why the PostgreSQL library cannot be used (never its password)."""
    cause = _driver_error(exc)
    first = next((line.strip() for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
    try:
        password = urlsplit(library.url).password
    except ValueError:
        password = None
    if password:
        first = first.replace(password, "***")
    return kind(f"cannot use the library {library.shown}: {first}")


# SQLSTATEs of a connection that is gone, or of a server going away or not up yet; a failed
# connect has none. Any of them may pass: the runner and its jobs wait (runner/patience.py).
_GONE = ("08", "57P01", "57P02", "57P03")


def _driver_error(exc: BaseException) -> BaseException:
    """psycopg's error behind peewee's: peewee raises its own while handling psycopg's, once per
    layer (a connect inside a statement: two), so psycopg's is down the chain of contexts."""
    inner: BaseException | None = exc
    for _ in range(8):
        if inner is None or isinstance(inner, psycopg.Error):
            break
        inner = inner.__cause__ or inner.__context__
    return inner if isinstance(inner, psycopg.Error) else exc


def connection_gone(exc: BaseException) -> bool:
    """``exc`` (psycopg's, or peewee's wrapping of it) says the server is out of reach."""
    cause = _driver_error(exc)
    if not isinstance(cause, psycopg.OperationalError):
        return False
    state = cause.sqlstate
    # (a connect the server refused, "the database system is starting up" or "... not currently
    # accepting connections", is psycopg's "connection failed", whatever its SQLSTATE)
    return state is None or state.startswith(_GONE) or str(cause).startswith("connection failed")


class PgStore(Store):
    """The library in a PostgreSQL database (``postgresql://user@host/db``)."""

    _PLUS = ""
    _FOR_UPDATE = " FOR UPDATE"
    _SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"
    _LIKE = "ILIKE"
    woken_by_changes = True  # wait_changed sleeps on the LISTEN socket

    def __init__(self, library: PostgresLibrary, *, create: bool = True) -> None:
        self.library = library  # type: ignore[assignment]  # (a Store's library is a file)
        self.pg_library = library
        self.opened_as = None
        self._heard: dict[int, tuple[float, float]] = {}  # (see Store._silent)
        self._local = threading.local()  # this thread's LISTEN connection and change count
        library.check_trust()
        self._db = PgDatabase(library.url)
        try:
            raw = self._db.connection()
            pg_schema.check_not_newer(raw, library.shown)
            if pg_schema.needs_migration(raw):
                if not create and not pg_schema.current_versions(raw):
                    raise NotFound(f"no library at {library.shown}")
                pg_schema.migrate(raw, library.shown)
        except SdjobsError:
            self._db.close()
            raise
        except (pw.PeeweeException, psycopg.Error) as exc:
            self._db.close()
            raise unreachable(library, exc, LibraryUnreachable if connection_gone(exc) else LibraryUnusable) from None
        # (its local data folder is made by what needs it: a runner, ``library.ensure_dirs``)

    def lost(self) -> str | None:
        return None  # no file to lose: the server keeps the data

    def close(self) -> None:
        self._db.close()
        listener = getattr(self._local, "listener", None)
        if listener is not None:
            self._local.listener = None
            listener.close()

    def reopen(self) -> None:
        """After a fork: the parent's connections are cut from this process (their sockets
        point at /dev/null, so that closing them here cannot end the parent's sessions) and
        new ones are opened on first use."""
        inherited = [getattr(self._db._state, "conn", None), getattr(self._local, "listener", None)]
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            for conn in inherited:
                if conn is not None and not conn.closed:
                    try:
                        os.dup2(devnull, conn.fileno())
                    except (OSError, psycopg.Error):
                        pass
        finally:
            os.close(devnull)
        self._db = PgDatabase(self.pg_library.url)
        self._local = threading.local()

    # -- dialect hooks (store/api.py) ---------------------------------------------
    def _sql(self, query: str, params: Sequence = ()):
        try:
            return self._db.execute_sql(pyformat(query), params)
        except (pw.OperationalError, pw.InterfaceError, psycopg.OperationalError) as exc:
            raise self._gone(exc) from None

    @contextlib.contextmanager
    def _transaction(self):
        try:
            with self._db.atomic():
                yield
        except (pw.OperationalError, pw.InterfaceError, psycopg.OperationalError) as exc:  # BEGIN, COMMIT
            raise self._gone(exc) from None

    def _gone(self, exc: BaseException) -> BaseException:
        """A lost server as ``LibraryUnreachable`` (one line; the caller may wait for it); any
        other error as it is."""
        return unreachable(self.pg_library, exc, LibraryUnreachable) if connection_gone(exc) else exc

    def _insert_id(self, query: str, params: Sequence = ()) -> int | None:
        row = self._sql(query + " RETURNING id", params).fetchone()
        return row[0] if row else None

    def _executemany(self, query: str, rows: Iterable[Sequence]) -> None:
        try:
            self._db.cursor().executemany(pyformat(query), rows)
        except (pw.OperationalError, pw.InterfaceError, psycopg.OperationalError) as exc:
            raise self._gone(exc) from None

    def _contains(self, column: str) -> str:
        return f"position(CAST(? AS BYTEA) IN {column}) > 0"

    def _now(self) -> float:
        """The database's clock, read once in CLOCK_RESYNC seconds and carried forward on this
        host's monotonic clock in between (never its wall clock, which may be set, stepped or
        faked): a claim or a heartbeat costs no extra round trip for it."""
        sync = getattr(self._local, "clock", None)
        if sync is None or time.monotonic() - sync[1] > CLOCK_RESYNC:
            before = time.monotonic()
            server = self._sql("SELECT CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)").fetchone()[0]
            after = time.monotonic()
            sync = self._local.clock = (server - (before + after) / 2, after)
        return time.monotonic() + sync[0]

    def _set_busy_timeout(self, seconds: float) -> None:
        self._sql(f"SET lock_timeout = {int(seconds * 1000)}")

    # -- live views ----------------------------------------------------------------
    def _listener(self):
        conn = getattr(self._local, "listener", None)
        if conn is None or conn.closed:
            url = self.pg_library.url
            params: dict[str, Any] = {} if "connect_timeout" in url else {"connect_timeout": CONNECT_TIMEOUT}
            conn = psycopg.connect(url, autocommit=True, application_name="sdjobs-listen", **params)
            conn.execute(f"LISTEN {pg_schema.CHANNEL}")
            self._local.listener = conn
            self._local.heard = getattr(self._local, "heard", 0) + 1  # whatever happened before it listened
        return conn

    def data_version(self) -> int:
        """Changes when anyone commits a change of the job plane: the triggers' sequence (one
        round trip) plus the NOTIFYs this thread has heard (none of them missed: a commit under
        way when the sequence was read is heard when it ends)."""
        self._hear(0)
        counter = self._sql(f"SELECT last_value FROM {pg_schema.COUNTER}").fetchone()[0]
        return counter + self._local.heard

    def wait_changed(self, seen: int, timeout: float, poll: float | None = None) -> int:
        version = self.data_version()
        if version != seen or timeout <= 0:
            return version
        self._hear(timeout, stop_after=1)
        return self.data_version()

    def _hear(self, timeout: float, stop_after: int | None = None) -> None:
        """Count the NOTIFYs that come within ``timeout``; a listening session the server
        dropped is given up (the next look opens another) and said as LibraryUnreachable."""
        try:
            listener = self._listener()  # (first: a new one counts what it may have missed)
            self._local.heard += sum(1 for _ in listener.notifies(timeout=timeout, stop_after=stop_after))
        except psycopg.Error as exc:
            listener, self._local.listener = getattr(self._local, "listener", None), None
            if listener is not None:
                listener.close()
            raise self._gone(exc) from None
