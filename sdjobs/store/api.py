"""The store: the one narrow interface the runner, the CLI and the dashboard use.

Verbs: submit, claim, heartbeat, write (progress + metrics + events +
checkpoint in one transaction), finish, control requests, queries, prune.
Every write transaction starts with BEGIN IMMEDIATE so that concurrent
writers queue on SQLite's busy timeout instead of failing with
"database is locked".
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable, Sequence

from .peewee_lazy import library_database, pw

from ..core import codec
from ..core.errors import LeaseLost, NotFound, SdjobsError
from ..core.hostid import this_host
from ..core.status import ACTIVE, FINISHED, Status
from . import action_store, events as lifecycle, family, hosts, schema
from .leases import LEASE_SECONDS, pid_alive, process_start
from .library import Library, check_openable, unusable
from .records import JOB_COLUMNS, Event, JobHead, JobRecord, RunnerRecord
from .verbs import Verbs

if TYPE_CHECKING:
    from .retention import Pruned

BUSY_TIMEOUT = 60.0
WAIT_POLL = 0.01  # wait_changed's longest sleep between looks at data_version on SQLite (5 us each)
WAIT_FIRST = 0.001  # its first, doubled up to WAIT_POLL: changes come in runs (a job's end is a few commits)
_PRAGMAS = {"journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1,
            "busy_timeout": int(BUSY_TIMEOUT * 1000)}
_FINISHED_SQL = "(" + ",".join(f"'{s.value}'" for s in FINISHED) + ")"
_ACTIVE_SQL = "(" + ",".join(f"'{s.value}'" for s in ACTIVE) + ")"
_COLS = ", ".join(JOB_COLUMNS)
# A running job's writes are fenced by its claim: they change nothing unless the job is still
# running under the claim its process was started with (see ``Store.claim``).
_FENCE = "status='running' AND claim=?"
# A job that crashed while a pause was asked of it is paused (the request is not lost by the
# crash); a cancel stays asked, for its next run to carry out; a shutdown request is moot.
_AFTER_CRASH = ("status=CASE WHEN control='pause' THEN 'paused' ELSE '{otherwise}' END,"
                " paused_at=CASE WHEN control='pause' THEN ? ELSE paused_at END,"
                " control=CASE WHEN control='cancel' THEN control ELSE NULL END")


_RUNNABLE = f"""status='queued'
    AND NOT EXISTS (SELECT 1 FROM job_dep d JOIN job j2 ON j2.id = d.depends_on
                    WHERE d.job_id = job.id AND j2.status NOT IN ('completed', 'completed-with-errors'))
    AND (wait_children = 0 OR NOT EXISTS (
        SELECT 1 FROM job c WHERE c.parent_id = job.id AND c.status NOT IN {_FINISHED_SQL}))"""
# The jobs a runner of this host may take: ``any`` and its host's, by id or by name (store/hosts.py).
_MINE = "host IN (?, ?, ?)"


class StoreError(SdjobsError):
    pass


class Store(Verbs, hosts.HostVerbs):
    """The SQLite library: the job plane's verbs (``store/job_plane.py``), the job-plane
    verbs whose SQL lives in modules of their own (``store/verbs.py``), and, through
    ``store/data_plane.py``, the data plane."""

    def __init__(self, library: Library, *, create: bool = True) -> None:
        self.library = library
        self._heard: dict[int, tuple[float, float]] = {}  # runner -> (its last heartbeat_at, since: monotonic)
        library.check_trust()  # before anything is opened or created (store/trust.py)
        check_openable(library)
        try:
            self._open(library, create)
        except SdjobsError:
            raise
        except (OSError, sqlite3.Error, pw.PeeweeException) as exc:
            raise unusable(library, exc) from None

    def _open(self, library: Library, create: bool) -> None:
        if not library.db_path.exists():
            if not create:
                raise NotFound(f"no library at {library.db_path}")
            library.ensure_dirs()
            try:  # never through, nor onto, a name someone planted
                os.close(os.open(library.db_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
            except FileExistsError:
                pass  # created meanwhile: checked again below
            library.check_trust()
        elif not library.data_dir.is_dir():
            library.ensure_dirs()
        self._db = library_database()(str(library.db_path), timeout=BUSY_TIMEOUT, pragmas=dict(_PRAGMAS))
        conn = self._db.connection()
        self.opened_as = library.file_identity()  # see Library.replaced_since
        schema.check_not_newer(conn, str(library.db_path))
        if schema.needs_migration(conn):
            fd = os.open(library.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                schema.migrate(conn)
            finally:
                os.close(fd)

    def lost(self) -> str | None:
        """Why this process must stop using the library, or None: its file was deleted, replaced
        or cut short of its header (``Library.lost_since``: a stat), or it holds fewer pages
        than the database has. Every page past the file's end must be in the WAL, so a file
        and WAL that together hold fewer pages than the page count were cut: a runner whose
        row went with the cut took that for `runner stop`, let its jobs checkpoint and left
        their temporaries to a resume that could never come. The WAL's size bounds its frames
        from above, and the database only grows here (no VACUUM): no healthy library is
        taken for a damaged one."""
        why = self.library.lost_since(self.opened_as)
        if why:
            return why
        page_size = self._sql("PRAGMA page_size").fetchone()[0]
        pages = self._sql("PRAGMA page_count").fetchone()[0]  # (the latest commit's, WAL included)
        path = str(self.library.db_path)
        try:
            size = os.stat(path).st_size
        except OSError:
            return None  # gone: the next look says so (lost_since)
        try:
            wal = os.stat(path + "-wal").st_size
        except OSError:
            wal = 0  # no WAL: every page is in the file
        frames = max(0, wal - 32) // (page_size + 24)  # a 32-byte header, then frames of a 24-byte header + a page
        if pages > size // page_size + frames:
            return f"was damaged (cut short: {size:,} bytes for {pages:,} pages of {page_size:,})"
        return None

    def close(self) -> None:
        """Close this thread's connection (each thread has its own; the next verb opens it again)."""
        self._db.close()

    def reopen(self) -> None:
        """Drop the connection inherited from a parent process and open a new one."""
        self._db = library_database()(self._db.database, timeout=BUSY_TIMEOUT, pragmas=dict(_PRAGMAS))

    # The SQL of the store's own modules. Nothing outside ``sdjobs/store`` uses these. The
    # statements are written once, in qmark style (``?``), in the SQL both backends speak; the
    # few spots where SQLite and PostgreSQL differ go through the dialect hooks below, which
    # PostgreSQL's store (``store/pg/store.py``) overrides.
    def _sql(self, query: str, params: Sequence = ()) -> sqlite3.Cursor:
        return self._db.execute_sql(query, params)

    def _transaction(self):
        return self._db.atomic("IMMEDIATE")

    # -- dialect hooks -----------------------------------------------------------
    # ``+column``: a column no index may answer (SQLite's unary plus; PostgreSQL has none).
    _PLUS = "+"
    # Appended to a SELECT that reads what its transaction then writes (SQLite's write lock,
    # taken by BEGIN IMMEDIATE, already keeps everyone else out).
    _FOR_UPDATE = ""
    # Appended to the claim's SELECT: rows another claim holds are skipped, not waited for.
    _SKIP_LOCKED = ""
    _LIKE = "LIKE"  # a case-insensitive LIKE

    def _insert_id(self, query: str, params: Sequence = ()) -> int | None:
        """Run an INSERT of one row (or none: an INSERT ... SELECT); the new row's id, or None."""
        cur = self._sql(query, params)
        return cur.lastrowid if cur.rowcount == 1 else None

    def _executemany(self, query: str, rows: Iterable[Sequence]) -> None:
        self._db.cursor().executemany(query, rows)

    def _in_transaction(self) -> bool:
        return self._db.in_transaction()

    def _contains(self, column: str) -> str:
        """A condition: the bytes of a parameter occur in the blob ``column``."""
        return f"instr({column}, ?) > 0"

    def _now(self) -> float:
        """The time of leases and heartbeats: this host's clock on SQLite (one host), the
        database's on PostgreSQL (runners on several hosts compare them)."""
        return time.time()

    def _set_busy_timeout(self, seconds: float) -> None:
        self._sql(f"PRAGMA busy_timeout={int(seconds * 1000)}")

    def data_version(self) -> int:
        """Changes when another connection commits (cheap; for live views)."""
        return self._sql("PRAGMA data_version").fetchone()[0]

    # A live view may sleep in ``wait_changed`` (PostgreSQL: until a NOTIFY) rather than poll.
    woken_by_changes = False

    def wait_changed(self, seen: int, timeout: float, poll: float | None = None) -> int:
        """Block until the library changed since ``data_version()`` was ``seen``, or ``timeout``
        seconds passed; the data version then. SQLite polls ``data_version``, at most ``poll``
        seconds apart (WAIT_POLL by default); PostgreSQL's store is woken by NOTIFY."""
        deadline = time.monotonic() + timeout
        pause, most = WAIT_FIRST, WAIT_POLL if poll is None else poll
        while True:
            version = self.data_version()
            left = deadline - time.monotonic()
            if version != seen or left <= 0:
                return version
            time.sleep(min(pause, left))
            pause = min(2 * pause, most)

    # -- submitting ----------------------------------------------------------
    def submit(self, job_type: str, version: int, config: Any, *, priority: int = 0,
               parent_id: int | None = None, context: dict | None = None,
               after: Iterable[int] = (), settings: dict | None = None,
               status: Status = Status.QUEUED, parent_claim: int | None = None,
               action: str | None = None, host: str | None = None) -> int:
        """Queue a job. A running job that spawns a child passes its claim as ``parent_claim``:
        a process whose claim was taken over raises LeaseLost and submits nothing. ``action``
        is the command word (``core/action.py``); a child takes its root's, and its initiator.
        ``host``: whose runner takes it (a host id or name, or ``any``); by default its
        parent's, else this host's (its paths are this host's: store/hosts.py)."""
        now = time.time()
        after = list(after)
        with self._transaction():
            if parent_claim is not None:
                self._check_claim(parent_id, parent_claim)
            if after:
                known = {r[0] for r in self._sql(
                    f"SELECT id FROM job WHERE id IN ({','.join('?' * len(after))})", after)}
                missing = [a for a in after if a not in known]
                if missing:
                    raise NotFound(f"--after: no job {missing[0]}")
            context, action = action_store.inherit(self, parent_id, context, action)
            if host is None and parent_id is not None:
                row = self._sql("SELECT host FROM job WHERE id=?", (parent_id,)).fetchone()
                host = row[0] if row else None
            job_id = self._insert_id(
                "INSERT INTO job (type, type_version, status, priority, parent_id, config, created_at,"
                " updated_at, settings, context, action, host) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (job_type, version, str(status), priority, parent_id, codec.pack(config), now, now,
                 codec.pack(settings or {}), codec.pack(context), action or job_type, host or this_host()),
            )
            assert job_id is not None  # (an INSERT's)
            if after:
                self._executemany(
                    "INSERT INTO job_dep (job_id, depends_on) VALUES (?, ?)", [(job_id, a) for a in after])
            lifecycle.submitted(self, job_id, context or {}, parent_id=parent_id, after=after, priority=priority)
        if after:
            self.fail_dependents()  # after a job that already failed: dependency-failed now, never run
        return job_id

    # -- reading -------------------------------------------------------------
    def get(self, job_id: int) -> JobRecord:
        row = self._sql(f"SELECT {_COLS} FROM job WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id}")
        rec = JobRecord.from_row(row)
        rec.depends_on = [r[0] for r in self._sql("SELECT depends_on FROM job_dep WHERE job_id=? ORDER BY 1",
                                                  (job_id,))]
        rec.children = [r[0] for r in self._sql("SELECT id FROM job WHERE parent_id=? ORDER BY id", (job_id,))]
        if rec.children:
            family.attach(self, [rec])  # the parent's progress includes its children's
        return rec

    def list_jobs(self, *, statuses: Iterable[str] | None = None, types: Iterable[str] | None = None,
                  recent: int | None = None, ids: Iterable[int] | None = None,
                  action: str | Iterable[str] | None = None, before_id: int | None = None,
                  limit: int | None = None, hosts: Iterable[str] | None = None) -> list[JobRecord]:
        """Jobs, active ones first (by priority), then history newest first.

        With ``recent``, at most that many finished jobs are included. With ``before_id`` or
        ``limit``, one page of the whole library instead, newest first whatever the status:
        at most ``limit`` jobs whose id is below ``before_id`` (the last id of a page asks for
        the next). Every filter runs in SQLite, over every job."""
        where: list[str] = []
        params: list[object] = []
        values: Iterable[object] | None
        if isinstance(action, str):
            action = [action]
        for column, values in (("status", statuses), ("type", types), ("id", ids), ("action", action),
                               ("host", hosts)):
            if values is not None:
                values = list(values)
                where.append(f"{column} IN ({','.join('?' * len(values))})" if values else "FALSE")
                params += values
        if before_id is not None or limit is not None:
            if before_id is not None:
                where.append("id < ?")
                params.append(int(before_id))
            lim = "" if limit is None else f" LIMIT {max(int(limit), 0)}"
            rows = self._sql(f"SELECT {_COLS} FROM job WHERE {' AND '.join(where) or 'TRUE'} ORDER BY id DESC{lim}",
                             params).fetchall()
            recs = [JobRecord.from_row(r) for r in rows]
            family.attach(self, recs)
            return recs
        cond = " AND ".join(where) or "TRUE"
        active = self._sql(
            f"SELECT {_COLS} FROM job WHERE {cond} AND status IN {_ACTIVE_SQL}"
            " ORDER BY status='running' DESC, priority DESC, id", params).fetchall()
        recent_limit = "" if recent is None else f" LIMIT {int(recent)}"
        # "+status": walk the ids newest first and stop at the limit, rather than sort every
        # finished job of the history through the status index to keep the newest few.
        done = self._sql(
            f"SELECT {_COLS} FROM job WHERE {cond} AND {self._PLUS}status IN {_FINISHED_SQL} ORDER BY id DESC{recent_limit}",
            params).fetchall()
        recs = [JobRecord.from_row(r) for r in active + done]
        family.attach(self, recs)  # the parents' progress includes their children's
        return recs

    def counts(self) -> dict[str, int]:
        return dict(self._sql("SELECT status, COUNT(*) FROM job GROUP BY status").fetchall())

    def events(self, job_id: int, *, after_id: int = 0, kinds: Iterable[str] | None = None,
               limit: int | None = None, newest: bool = False) -> list[Event]:
        """A job's events in order, each with its fields (an empty dict for a plain line): the
        first ``limit`` after ``after_id``, or with ``newest`` the last ``limit`` of them."""
        cond = "e.job_id = ? AND e.id > ?"
        params: list[Any] = [job_id, after_id]
        if kinds is not None:
            kinds = list(kinds)
            cond += f" AND e.kind IN ({','.join('?' * len(kinds))})"
            params += kinds
        order = "DESC" if newest else "ASC"
        lim = f" LIMIT {int(limit)}" if limit else ""
        rows = self._sql("SELECT e.id, e.job_id, e.ts, e.kind, e.path, e.message, e.retries, f.fields"
                         " FROM job_event e LEFT JOIN job_event_field f ON f.event_id = e.id"
                         f" WHERE {cond} ORDER BY e.id {order}{lim}", params).fetchall()
        if newest:
            rows.reverse()
        out = []
        for row in rows:
            ev = Event.from_row(row[:7])
            if row[7] is not None:
                ev.fields = codec.unpack(row[7])
            out.append(ev)
        return out

    def read_checkpoint(self, job_id: int) -> tuple[bytes | None, int | None]:
        row = self._sql("SELECT state, state_version FROM job WHERE id = ?", (job_id,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def read_control(self, job_id: int, claim: int | None = None) -> str | None:
        """The pending request (pause, cancel, shutdown). With ``claim``: raises LeaseLost when
        the job no longer runs under that claim, so a job taken over stops at its next check."""
        row = self._sql("SELECT control, status, claim FROM job WHERE id = ?", (job_id,)).fetchone()
        if claim is not None and (row is None or row[1] != "running" or row[2] != claim):
            raise LeaseLost(f"job {job_id} is no longer running under claim {claim}")
        return row[0] if row else None

    def _check_claim(self, job_id: int | None, claim: int) -> None:
        if self._sql(f"SELECT 1 FROM job WHERE id=? AND {_FENCE}", (job_id, claim)).fetchone() is None:
            raise LeaseLost(f"job {job_id} is no longer running under claim {claim}")

    def check_claim(self, job_id: int, claim: int) -> None:
        """Raise LeaseLost unless the job still runs under ``claim``. Call it inside the
        transaction of a write of the job's own tables, to fence that write too."""
        self._check_claim(job_id, claim)

    def _event(self, job_id: int, kind: str, message: str, path: bytes | None = None,
               ts: float | None = None) -> None:
        """One event, tagged with the job's current retries (the run it belongs to)."""
        self._sql("INSERT INTO job_event (job_id, ts, kind, path, message, retries)"
                  " SELECT id, ?, ?, ?, ?, retries FROM job WHERE id=?",
                  (time.time() if ts is None else ts, kind, path, text(message), job_id))

    def read_settings(self, job_id: int) -> dict:
        row = self._sql("SELECT settings FROM job WHERE id = ?", (job_id,)).fetchone()
        return (codec.unpack(row[0]) or {}) if row else {}

    def job_status(self, job_id: int) -> str | None:
        """The job's status, or None when there is no such job (cheap: nothing is decoded)."""
        row = self._sql("SELECT status FROM job WHERE id=?", (job_id,)).fetchone()
        return row[0] if row else None

    def job_head(self, job_id: int) -> JobHead | None:
        """What can be read of a job without decoding any of its blobs (for a record that
        does not decode), or None when there is no such job."""
        row = self._sql("SELECT id, type, status, priority, parent_id, created_at, control FROM job WHERE id=?",
                        (job_id,)).fetchone()
        return JobHead(*row) if row else None

    def children_status(self, job_id: int) -> list[tuple[int, str]]:
        return [tuple(r) for r in self._sql("SELECT id, status FROM job WHERE parent_id=? ORDER BY id", (job_id,))]

    # -- the running job's writes ---------------------------------------------
    def write(self, job_id: int, progress: dict | None, metrics: dict, events: list,
              checkpoint: tuple[bytes | None, int | None] | None, claim: int | None = None,
              busy_timeout: float | None = None) -> None:
        """A running job's progress, metrics, events and checkpoint, in one transaction.
        With ``claim`` (the job process's writes), nothing is written and LeaseLost is raised
        unless the job still runs under that claim. ``busy_timeout``: how long this thread's
        writes wait for the write lock from now on, in seconds (a trailing writer gives way)."""
        if busy_timeout is not None:
            self._set_busy_timeout(busy_timeout)
        now = time.time()
        sets = "updated_at=?, bytes_done=?, items_done=?, warnings=?, errors=?"
        params: list[Any] = [now, metrics["bytes"], metrics["items"], metrics["warnings"], metrics["errors"]]
        if progress is not None:
            sets += ", progress=?"
            params.append(codec.pack(progress))
        if checkpoint is not None:
            sets += ", state=?, state_version=?"
            params += list(checkpoint)
        fence, fence_params = ("", []) if claim is None else (f" AND {_FENCE}", [claim])
        with self._transaction():
            if self._sql(f"UPDATE job SET {sets} WHERE id=?{fence}", params + [job_id] + fence_params).rowcount != 1:
                if claim is not None:
                    raise LeaseLost(f"job {job_id} is no longer running under claim {claim}")
            if events:
                lifecycle.insert(self, job_id, events)

    def log(self, job_id: int, message: str, kind: str = "log", claim: int | None = None) -> None:
        with self._transaction():
            if claim is not None:
                self._check_claim(job_id, claim)
            self._event(job_id, kind, message)

    def set_settings(self, job_id: int, **changes: Any) -> dict:
        with self._transaction():
            row = self._sql(f"SELECT settings FROM job WHERE id = ?{self._FOR_UPDATE}", (job_id,)).fetchone()
            settings = (codec.unpack(row[0]) or {}) if row else {}
            settings.update({k: v for k, v in changes.items()})
            settings = {k: v for k, v in settings.items() if v is not None}
            self._sql("UPDATE job SET settings=?, updated_at=? WHERE id=?",
                      (codec.pack(settings), time.time(), job_id))
        return settings

    # -- runner side ----------------------------------------------------------
    def register_runner(self, workers: int, mode: str) -> int:
        """This process as a runner of the library, on this host (recorded with its mounts)."""
        now, pid = self._now(), os.getpid()
        with self._transaction():
            host = hosts.register(self, now)
            runner_id = self._insert_id("INSERT INTO runner (pid, pid_start, host, started_at, heartbeat_at, workers,"
                                        " mode) VALUES (?,?,?,?,?,?,?)",
                                        (pid, process_start(pid), host, now, now, workers, mode))
        assert runner_id is not None
        return runner_id

    def unregister_runner(self, runner_id: int) -> None:
        self._sql("DELETE FROM runner WHERE id=?", (runner_id,))

    def heartbeat(self, runner_id: int, job_ids: Sequence[int], busy: int) -> bool:
        """Refresh the runner's lease and its jobs'; False if the runner row is gone."""
        now = self._now()
        with self._transaction():
            cur = self._sql("UPDATE runner SET heartbeat_at=?, busy=? WHERE id=?", (now, busy, runner_id))
            if cur.rowcount == 1:
                hosts.seen(self, this_host(), now)
            if job_ids:  # only those still its own
                self._sql(f"UPDATE job SET heartbeat_at=? WHERE runner_id=? AND status='running'"
                          f" AND id IN ({','.join('?' * len(job_ids))})", [now, runner_id, *job_ids])
        return cur.rowcount == 1

    def runners(self, live_only: bool = True) -> list[RunnerRecord]:
        rows = [RunnerRecord(*r) for r in self._sql(
            "SELECT id, pid, pid_start, host, started_at, heartbeat_at, workers, busy, mode, stopping"
            " FROM runner ORDER BY id")]
        here = this_host()
        now = self._now() if live_only and any(r.host != here for r in rows) else None
        return [r for r in rows if not live_only or runner_alive(r, now)]

    def request_runner_stop(self, runner_id: int | None = None) -> int:
        cond = "" if runner_id is None else f" WHERE id={int(runner_id)}"
        return self._sql(f"UPDATE runner SET stopping=1{cond}").rowcount

    def runner_stopping(self, runner_id: int) -> bool:
        row = self._sql("SELECT stopping FROM runner WHERE id=?", (runner_id,)).fetchone()
        return row is None or bool(row[0])

    def claim(self, runner_id: int, n: int) -> list[JobRecord]:
        """Atomically take up to ``n`` runnable jobs of this host or ``any``, highest priority, then oldest.

        Each claim gives the job a new ``claim`` value, which its process passes with every
        write (fencing): a process of an earlier claim, frozen or cut off from its runner,
        can then write nothing. Starting a run is not an attempt: only a crash counts one."""
        if n <= 0:
            return []
        with self._transaction():
            now = self._now()  # once the write lock is held: after whatever finished before this claim
            ids = [r[0] for r in self._sql(
                f"SELECT id FROM job WHERE {_RUNNABLE} AND {_MINE} ORDER BY priority DESC, id LIMIT ?{self._SKIP_LOCKED}",
                (*hosts.mine(), n))]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self._sql(f"UPDATE job SET status='running', runner_id=?, heartbeat_at=?, updated_at=?,"
                      f" started_at=COALESCE(started_at, ?), claim=claim+1, wait_children=0,"
                      f" control=CASE WHEN control='cancel' THEN control ELSE NULL END"
                      f" WHERE id IN ({marks}) AND status='queued'", [runner_id, now, now, now, *ids])
            rows = self._sql(f"SELECT {_COLS} FROM job WHERE id IN ({marks}) ORDER BY priority DESC, id", ids)
            return [JobRecord.from_row(r) for r in rows]

    def has_runnable(self) -> bool:
        """Whether a job a runner of this host may take is runnable."""
        return self._sql(f"SELECT 1 FROM job WHERE {_RUNNABLE} AND {_MINE} LIMIT 1", hosts.mine()).fetchone() is not None

    def owned_by(self, runner_id: int) -> list[int]:
        return [r[0] for r in self._sql("SELECT id FROM job WHERE status='running' AND runner_id=?", (runner_id,))]

    def request_shutdown(self, runner_id: int) -> None:
        """Ask the runner's jobs to checkpoint and stop (a pending pause or cancel wins)."""
        self._sql("UPDATE job SET control='shutdown' WHERE status='running' AND runner_id=? AND control IS NULL",
                  (runner_id,))

    def crashed(self, job_id: int, claim: int, reason: str, why_word: str = "process-died", **facts: Any) -> bool:
        """The job's process (of this claim) died without recording an end: that is one more
        attempt; queue it again, or fail it when it has used them all (then True). ``why_word``
        and ``facts`` go in its ``interrupted`` event (store/events.py)."""
        now = time.time()
        with self._transaction():
            row = self._sql(f"SELECT attempts, max_attempts FROM job WHERE id=? AND {_FENCE}{self._FOR_UPDATE}",
                            (job_id, claim)).fetchone()
            if row is None:
                return False
            attempts, max_attempts = row[0] + 1, row[1]
            self._sql("UPDATE job SET attempts=? WHERE id=?", (attempts, job_id))
            lifecycle.interrupted(self, job_id, why_word, reason, ts=now, attempt=attempts, **facts)
            if attempts >= max_attempts:
                error = f"{reason}, {attempts} times"
                self._sql("UPDATE job SET status='failed', finished_at=?, updated_at=?, runner_id=NULL, pid=NULL,"
                          " error=? WHERE id=?", (now, now, error, job_id))
                lifecycle.finished(self, job_id, "failed", error=error, category="crash", ts=now)
            else:
                self._sql(f"UPDATE job SET {_AFTER_CRASH.format(otherwise='queued')}, updated_at=?, runner_id=NULL,"
                          " pid=NULL WHERE id=?", (now, now, job_id))
        return attempts >= max_attempts

    def let_go(self, job_id: int, claim: int, reason: str, why_word: str = "library-unreachable",
               **facts: Any) -> bool:
        """The job's process (of this claim) stopped without an end through no fault of the job
        (its library was out of reach for longer than it waits, runner/patience.py): queued
        again with no attempt counted (a pause asked meanwhile pauses it). False when the job
        no longer runs under ``claim``."""
        now = self._now()
        with self._transaction():
            if self._sql(f"SELECT 1 FROM job WHERE id=? AND {_FENCE}{self._FOR_UPDATE}",
                         (job_id, claim)).fetchone() is None:
                return False
            lifecycle.interrupted(self, job_id, why_word, reason, ts=now, **facts)
            self._sql(f"UPDATE job SET {_AFTER_CRASH.format(otherwise='queued')}, updated_at=?, runner_id=NULL,"
                      " pid=NULL WHERE id=?", (now, now, job_id))
        return True

    def fail_dependents(self) -> list[int]:
        """Waiting jobs one of whose dependencies failed or was cancelled fail without running
        (and so do the jobs that wait for those, transitively)."""
        failed: list[int] = []
        while True:
            rows = self._sql("""SELECT d.job_id, d.depends_on, j2.status FROM job_dep d
                               JOIN job j ON j.id = d.job_id JOIN job j2 ON j2.id = d.depends_on
                               WHERE j.status IN ('queued', 'paused', 'interrupted')
                               AND j2.status IN ('failed', 'cancelled')""").fetchall()
            if not rows:
                return failed
            now = time.time()
            with self._transaction():
                for job_id, dep, status in rows:
                    why = f"dependency-failed: job {dep} {status}"
                    if self._sql("UPDATE job SET status='failed', finished_at=?, updated_at=?, error=? WHERE id=?"
                                 " AND status IN ('queued', 'paused', 'interrupted')",
                                 (now, now, why, job_id)).rowcount:
                        lifecycle.finished(self, job_id, "failed", error=f"{why}; not run", category="dependency",
                                           ts=now)
                        failed.append(job_id)

    def set_pid(self, job_id: int, pid: int, claim: int) -> None:
        if self._sql(f"UPDATE job SET pid=? WHERE id=? AND {_FENCE}", (pid, job_id, claim)).rowcount != 1:
            raise LeaseLost(f"job {job_id} is no longer running under claim {claim}")

    def finish(self, job_id: int, status: Status, *, runner_id: int | None = None, claim: int | None = None,
               output: Any = None, error: str | None = None, run_seconds: float = 0.0,
               wait_children: bool = False) -> bool:
        """Record how a run ended. Returns False if the job is no longer this runner's; with
        ``claim`` (the job process itself), raises LeaseLost if it no longer runs under it."""
        now = time.time()
        owned = "" if runner_id is None else f" AND runner_id={int(runner_id)}"
        if claim is not None:
            owned += f" AND claim={int(claim)}"
        fields = ("status=?, control=NULL, updated_at=?, run_seconds=run_seconds+?, runner_id=NULL,"
                  " pid=NULL, wait_children=?")
        params: list[Any] = [str(status), now, run_seconds, int(wait_children)]
        if status in FINISHED:
            fields += ", finished_at=?, output=?, error=?"
            params += [now, codec.pack(output), text(error)]
            if status is Status.COMPLETED:  # never resumed (retry takes only jobs with errors): its
                # checkpoint goes, which can be megabytes (dupes' groups) and sits in the row before
                # progress and output, so every read of them walked its overflow pages
                fields += ", state=NULL"
        elif status is Status.PAUSED:
            fields += ", paused_at=?"
            params.append(now)
        elif error is not None:
            fields += ", error=?"
            params.append(text(error))
        cur = self._sql(f"UPDATE job SET {fields} WHERE id=? AND status='running'{owned}", params + [job_id])
        if cur.rowcount != 1 and claim is not None:
            raise LeaseLost(f"job {job_id} is no longer running under claim {claim}")
        return cur.rowcount == 1

    def set_status(self, job_id: int, status: Status, *, only_from: Iterable[str], error: str | None = None,
                   control: str | None = None) -> bool:
        """Move a job that is not running between states (pause, resume, retry, cancel)."""
        now = time.time()
        src = list(only_from)
        extra, params = "", [str(status), now, control]
        if status in FINISHED:
            extra += ", finished_at=?"
            params.append(now)
        if status is Status.PAUSED:
            extra += ", paused_at=?"
            params.append(now)
        if status is Status.QUEUED:
            extra += ", finished_at=NULL, error=NULL"
        if error is not None:
            extra += ", error=?"
            params.append(text(error))
        cur = self._sql(f"UPDATE job SET status=?, updated_at=?, control=?{extra}"
                        f" WHERE id=? AND status IN ({','.join('?' * len(src))})", params + [job_id, *src])
        return cur.rowcount == 1

    def retry(self, job_id: int, *, only_from: str, from_scratch: bool = False) -> bool:
        """Queue a finished job again as a new run: its attempts start again, and so do its
        warning and error counts (the earlier runs' events stay, tagged with their retries);
        bytes and items done are kept with the checkpoint, unless ``from_scratch``."""
        scratch = ", state=NULL, state_version=NULL, bytes_done=0, items_done=0" if from_scratch else ""
        cur = self._sql("UPDATE job SET status='queued', updated_at=?, control=NULL, finished_at=NULL, error=NULL,"
                        f" attempts=0, retries=retries+1, warnings=0, errors=0{scratch} WHERE id=? AND status=?",
                        (time.time(), job_id, only_from))
        return cur.rowcount == 1

    def set_control(self, job_id: int, control: str | None, *, only_status: str = "running") -> bool:
        cur = self._sql("UPDATE job SET control=?, updated_at=? WHERE id=? AND status=?",
                        (control, time.time(), job_id, only_status))
        return cur.rowcount == 1

    def set_priority(self, job_id: int, priority: int) -> None:
        self._sql("UPDATE job SET priority=?, updated_at=? WHERE id=?", (priority, time.time(), job_id))

    def recover_orphans(self, other_hosts: bool = False) -> list[int]:
        """Jobs marked running whose runner is gone become interrupted (or failed
        after too many attempts: a runner's death counts as one). Returns their ids.

        A runner on this host is gone only when its process is (see ``runner_alive``): no
        clock is trusted for it, so a client whose clock is ahead cannot declare it dead. Only
        a runner (``other_hosts``) judges runners on other hosts: one is gone when its heartbeat
        has stood still for a lease as this process watched it (``_silent``)."""
        runners = self.runners(live_only=False)
        here = this_host()
        dead = [r.id for r in runners
                if (not runner_alive(r) if r.host == here else other_hosts and self._silent(r))]
        by_id = {r.id: r for r in runners}
        live = [r.id for r in runners if r.id not in dead]
        cond = "status='running'"
        if live:  # (NOT IN over an empty or NULL list would match nothing)
            cond += f" AND (runner_id IS NULL OR runner_id NOT IN ({','.join('?' * len(live))}))"
        if not dead and not self._sql(f"SELECT 1 FROM job WHERE {cond} LIMIT 1", live).fetchone():
            return []
        now = time.time()
        with self._transaction():
            if dead:
                self._sql(f"DELETE FROM runner WHERE id IN ({','.join('?' * len(dead))})", dead)
            rows = self._sql(f"SELECT id, attempts, max_attempts, runner_id, pid FROM job WHERE {cond}{self._FOR_UPDATE}",
                             live).fetchall()
            for job_id, attempts, max_attempts, runner_id, pid in rows:
                attempts += 1
                self._sql("UPDATE job SET attempts=? WHERE id=?", (attempts, job_id))
                lifecycle.runner_lost(self, job_id, by_id.get(runner_id), runner_id, pid, attempts,
                                      attempts >= max_attempts, now)
                if attempts >= max_attempts:
                    error = f"the process running it died {attempts} times"
                    self._sql("UPDATE job SET status='failed', finished_at=?, updated_at=?, runner_id=NULL,"
                              " pid=NULL, error=? WHERE id=?", (now, now, error, job_id))
                    lifecycle.finished(self, job_id, "failed", error=error, category="crash", ts=now)
                else:
                    self._sql(f"UPDATE job SET {_AFTER_CRASH.format(otherwise='interrupted')}, updated_at=?,"
                              " runner_id=NULL, pid=NULL WHERE id=?", (now, now, job_id))
        return [r[0] for r in rows]

    def _silent(self, r: RunnerRecord) -> bool:
        """A runner of another host has not heartbeated for a lease, by this process's monotonic
        clock: its heartbeat value has not changed since this process first saw it, a lease ago.
        No two hosts' clocks are compared (a host whose clock lags or leads keeps its jobs while
        it heartbeats); a runner that starts after another host went silent waits one lease."""
        now = time.monotonic()
        seen = self._heard.get(r.id)
        if seen is None or seen[0] != r.heartbeat_at:
            self._heard[r.id] = (r.heartbeat_at, now)
            return False
        return now - seen[1] > LEASE_SECONDS

    def requeue_interrupted(self) -> int:
        """Queue again the interrupted jobs a runner of this host may take: those of another host
        stay interrupted until their host's runner comes back (or for ever, if it never does)."""
        now = self._now()
        return self._sql(f"UPDATE job SET status='queued', updated_at=? WHERE status='interrupted' AND {_MINE}",
                         (now, *hosts.mine())).rowcount

    # -- history ---------------------------------------------------------------
    def prune(self, older_than: float, *, failed_older_than: float | None = None, now: float | None = None,
              limit: int | None = None) -> Pruned:
        """Delete finished jobs older than ``older_than`` seconds with their result files
        (``store/retention.py``); how many jobs and files went."""
        from .retention import prune_jobs

        return prune_jobs(self, older_than, failed_older_than=failed_older_than, now=now, limit=limit)


def text(message: str | None) -> str | None:
    """A message as every backend can store it: a name that is not UTF-8 in it (lone
    surrogates, as Python decodes such names) is kept as ``\\xNN`` escapes, and so is a NUL
    (PostgreSQL's text cannot hold one). Paths themselves are stored as bytes, exactly; only
    their mention in a message is escaped."""
    if message is None:
        return message
    if "\x00" in message:
        message = message.replace("\x00", "\\x00")
    if message.isascii():
        return message
    return message.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def runner_alive(r: RunnerRecord, now: float | None = None) -> bool:
    """A runner on this host is alive while its process is (pid and start time): neither this
    process's clock nor the runner's heartbeat decides it. A heartbeat older than the lease
    declares dead only a runner on another host, whose process cannot be seen from here, and
    by the clock that stamped the heartbeat: ``now``, the store's (``Store._now``)."""
    if r.host == this_host():
        return pid_alive(r.pid, r.pid_start)
    return (time.time() if now is None else now) - r.heartbeat_at <= LEASE_SECONDS
