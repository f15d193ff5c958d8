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
from typing import Any, Iterable, Sequence

import peewee as pw

from ..core import codec
from ..core.errors import NotFound, SdjobsError
from ..core.status import ACTIVE, FINISHED, Status
from . import family, schema
from .leases import HOST, LEASE_SECONDS, pid_alive, process_start
from .library import Library
from .records import JOB_COLUMNS, Event, JobRecord, RunnerRecord

BUSY_TIMEOUT = 60.0
_FINISHED_SQL = "(" + ",".join(f"'{s.value}'" for s in FINISHED) + ")"
_ACTIVE_SQL = "(" + ",".join(f"'{s.value}'" for s in ACTIVE) + ")"
_COLS = ", ".join(JOB_COLUMNS)


_RUNNABLE = f"""status='queued'
    AND NOT EXISTS (SELECT 1 FROM job_dep d JOIN job j2 ON j2.id = d.depends_on
                    WHERE d.job_id = job.id AND j2.status NOT IN ('completed', 'completed-with-errors'))
    AND (wait_children = 0 OR NOT EXISTS (
        SELECT 1 FROM job c WHERE c.parent_id = job.id AND c.status NOT IN {_FINISHED_SQL}))"""


class StoreError(SdjobsError):
    pass


class Store:
    def __init__(self, library: Library, *, create: bool = True) -> None:
        self.library = library
        library.check_trust()
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
        self.db = pw.SqliteDatabase(
            str(library.db_path),
            timeout=BUSY_TIMEOUT,
            pragmas={"journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1,
                     "busy_timeout": int(BUSY_TIMEOUT * 1000)},
        )
        try:
            conn = self.db.connection()
            if schema.needs_migration(conn):
                fd = os.open(library.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    schema.migrate(conn)
                finally:
                    os.close(fd)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open library {library.db_path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def reopen(self) -> None:
        """Drop the connection inherited from a parent process and open a new one."""
        self.db = pw.SqliteDatabase(self.db.database, timeout=BUSY_TIMEOUT, pragmas=dict(self.db._pragmas))

    def sql(self, query: str, params: Sequence = ()) -> sqlite3.Cursor:
        return self.db.execute_sql(query, params)

    def transaction(self):
        return self.db.atomic("IMMEDIATE")

    def data_version(self) -> int:
        """Changes when another connection commits (cheap; for live views)."""
        return self.sql("PRAGMA data_version").fetchone()[0]

    # -- submitting ----------------------------------------------------------
    def submit(self, job_type: str, version: int, config: Any, *, priority: int = 0,
               parent_id: int | None = None, context: dict | None = None,
               after: Iterable[int] = (), settings: dict | None = None,
               status: Status = Status.QUEUED) -> int:
        now = time.time()
        after = list(after)
        with self.transaction():
            if after:
                known = {r[0] for r in self.sql(
                    f"SELECT id FROM job WHERE id IN ({','.join('?' * len(after))})", after)}
                missing = [a for a in after if a not in known]
                if missing:
                    raise NotFound(f"--after: no job {missing[0]}")
            cur = self.sql(
                "INSERT INTO job (type, type_version, status, priority, parent_id, config, created_at,"
                " updated_at, settings, context) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (job_type, version, str(status), priority, parent_id, codec.pack(config), now, now,
                 codec.pack(settings or {}), codec.pack(context or {})),
            )
            job_id = cur.lastrowid
            if after:
                self.db.cursor().executemany(
                    "INSERT INTO job_dep (job_id, depends_on) VALUES (?, ?)", [(job_id, a) for a in after])
        if after:
            self.fail_dependents()  # after a job that already failed: dependency-failed now, never run
        return job_id

    # -- reading -------------------------------------------------------------
    def get(self, job_id: int) -> JobRecord:
        row = self.sql(f"SELECT {_COLS} FROM job WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id}")
        rec = JobRecord.from_row(row)
        rec.depends_on = [r[0] for r in self.sql("SELECT depends_on FROM job_dep WHERE job_id=? ORDER BY 1", (job_id,))]
        rec.children = [r[0] for r in self.sql("SELECT id FROM job WHERE parent_id=? ORDER BY id", (job_id,))]
        if rec.children:
            family.attach(self, [rec])  # the parent's progress includes its children's
        return rec

    def list_jobs(self, *, statuses: Iterable[str] | None = None, types: Iterable[str] | None = None,
                  recent: int | None = None, ids: Iterable[int] | None = None) -> list[JobRecord]:
        """Jobs, active ones first (by priority), then history newest first.

        With ``recent``, at most that many finished jobs are included."""
        where, params = [], []
        for column, values in (("status", statuses), ("type", types), ("id", ids)):
            if values is not None:
                values = list(values)
                where.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
                params += values
        cond = " AND ".join(where) or "1"
        active = self.sql(
            f"SELECT {_COLS} FROM job WHERE {cond} AND status IN {_ACTIVE_SQL}"
            " ORDER BY status='running' DESC, priority DESC, id", params).fetchall()
        limit = "" if recent is None else f" LIMIT {int(recent)}"
        # "+status": walk the ids newest first and stop at the limit, rather than sort every
        # finished job of the history through the status index to keep the newest few.
        done = self.sql(
            f"SELECT {_COLS} FROM job WHERE {cond} AND +status IN {_FINISHED_SQL} ORDER BY id DESC{limit}",
            params).fetchall()
        recs = [JobRecord.from_row(r) for r in active + done]
        family.attach(self, recs)  # the parents' progress includes their children's
        return recs

    def counts(self) -> dict[str, int]:
        return dict(self.sql("SELECT status, COUNT(*) FROM job GROUP BY status").fetchall())

    def events(self, job_id: int, *, after_id: int = 0, kinds: Iterable[str] | None = None,
               limit: int | None = None, newest: bool = False) -> list[Event]:
        cond, params = "job_id = ? AND id > ?", [job_id, after_id]
        if kinds is not None:
            kinds = list(kinds)
            cond += f" AND kind IN ({','.join('?' * len(kinds))})"
            params += kinds
        order = "DESC" if newest else "ASC"
        lim = f" LIMIT {int(limit)}" if limit else ""
        rows = self.sql(f"SELECT id, job_id, ts, kind, path, message FROM job_event WHERE {cond}"
                        f" ORDER BY id {order}{lim}", params).fetchall()
        if newest:
            rows.reverse()
        return [Event.from_row(r) for r in rows]

    def read_checkpoint(self, job_id: int) -> tuple[bytes | None, int | None]:
        row = self.sql("SELECT state, state_version FROM job WHERE id = ?", (job_id,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def read_control(self, job_id: int) -> str | None:
        row = self.sql("SELECT control FROM job WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def read_settings(self, job_id: int) -> dict:
        row = self.sql("SELECT settings FROM job WHERE id = ?", (job_id,)).fetchone()
        return (codec.unpack(row[0]) or {}) if row else {}

    def children_status(self, job_id: int) -> list[tuple[int, str]]:
        return [tuple(r) for r in self.sql("SELECT id, status FROM job WHERE parent_id=? ORDER BY id", (job_id,))]

    # -- the running job's writes ---------------------------------------------
    def write(self, job_id: int, progress: dict | None, metrics: dict, events: list,
              checkpoint: tuple[bytes, int] | None) -> None:
        now = time.time()
        sets = "updated_at=?, bytes_done=?, items_done=?, warnings=?, errors=?"
        params: list[Any] = [now, metrics["bytes"], metrics["items"], metrics["warnings"], metrics["errors"]]
        if progress is not None:
            sets += ", progress=?"
            params.append(codec.pack(progress))
        if checkpoint is not None:
            sets += ", state=?, state_version=?"
            params += list(checkpoint)
        with self.transaction():
            self.sql(f"UPDATE job SET {sets} WHERE id=?", params + [job_id])
            if events:
                self.db.cursor().executemany(
                    "INSERT INTO job_event (job_id, ts, kind, path, message) VALUES (?,?,?,?,?)",
                    [(job_id, ts, kind, os.fsencode(path) if path is not None else None, msg)
                     for ts, kind, path, msg in events])

    def log(self, job_id: int, message: str, kind: str = "log") -> None:
        self.sql("INSERT INTO job_event (job_id, ts, kind, message) VALUES (?,?,?,?)",
                 (job_id, time.time(), kind, message))

    def set_settings(self, job_id: int, **changes: Any) -> dict:
        with self.transaction():
            settings = self.read_settings(job_id)
            settings.update({k: v for k, v in changes.items()})
            settings = {k: v for k, v in settings.items() if v is not None}
            self.sql("UPDATE job SET settings=?, updated_at=? WHERE id=?",
                     (codec.pack(settings), time.time(), job_id))
        return settings

    # -- runner side ----------------------------------------------------------
    def register_runner(self, workers: int, mode: str) -> int:
        now, pid = time.time(), os.getpid()
        cur = self.sql("INSERT INTO runner (pid, pid_start, host, started_at, heartbeat_at, workers, mode)"
                       " VALUES (?,?,?,?,?,?,?)", (pid, process_start(pid), HOST, now, now, workers, mode))
        return cur.lastrowid

    def unregister_runner(self, runner_id: int) -> None:
        self.sql("DELETE FROM runner WHERE id=?", (runner_id,))

    def heartbeat(self, runner_id: int, job_ids: Sequence[int], busy: int) -> bool:
        """Refresh the runner's lease and its jobs'; False if the runner row is gone."""
        now = time.time()
        with self.transaction():
            cur = self.sql("UPDATE runner SET heartbeat_at=?, busy=? WHERE id=?", (now, busy, runner_id))
            if job_ids:
                self.sql(f"UPDATE job SET heartbeat_at=? WHERE id IN ({','.join('?' * len(job_ids))})",
                         [now, *job_ids])
        return cur.rowcount == 1

    def runners(self, live_only: bool = True) -> list[RunnerRecord]:
        rows = [RunnerRecord(*r) for r in self.sql(
            "SELECT id, pid, pid_start, host, started_at, heartbeat_at, workers, busy, mode, stopping"
            " FROM runner ORDER BY id")]
        return [r for r in rows if not live_only or runner_alive(r)]

    def request_runner_stop(self, runner_id: int | None = None) -> int:
        cond = "" if runner_id is None else f" WHERE id={int(runner_id)}"
        return self.sql(f"UPDATE runner SET stopping=1{cond}").rowcount

    def runner_stopping(self, runner_id: int) -> bool:
        row = self.sql("SELECT stopping FROM runner WHERE id=?", (runner_id,)).fetchone()
        return row is None or bool(row[0])

    def claim(self, runner_id: int, n: int) -> list[JobRecord]:
        """Atomically take up to ``n`` runnable jobs, highest priority, then oldest."""
        if n <= 0:
            return []
        with self.transaction():
            now = time.time()  # once the write lock is held: after whatever finished before this claim
            ids = [r[0] for r in self.sql(
                f"SELECT id FROM job WHERE {_RUNNABLE} ORDER BY priority DESC, id LIMIT ?", (n,))]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self.sql(f"UPDATE job SET status='running', runner_id=?, heartbeat_at=?, updated_at=?,"
                     f" started_at=COALESCE(started_at, ?), attempts=attempts+1, wait_children=0,"
                     f" control=CASE WHEN control='cancel' THEN control ELSE NULL END"
                     f" WHERE id IN ({marks}) AND status='queued'", [runner_id, now, now, now, *ids])
            rows = self.sql(f"SELECT {_COLS} FROM job WHERE id IN ({marks}) ORDER BY priority DESC, id", ids)
            return [JobRecord.from_row(r) for r in rows]

    def has_runnable(self) -> bool:
        return self.sql(f"SELECT 1 FROM job WHERE {_RUNNABLE} LIMIT 1").fetchone() is not None

    def owned_by(self, runner_id: int) -> list[int]:
        return [r[0] for r in self.sql("SELECT id FROM job WHERE status='running' AND runner_id=?", (runner_id,))]

    def request_shutdown(self, runner_id: int) -> None:
        """Ask the runner's jobs to checkpoint and stop (a pending pause or cancel wins)."""
        self.sql("UPDATE job SET control='shutdown' WHERE status='running' AND runner_id=? AND control IS NULL",
                 (runner_id,))

    def crashed(self, job_id: int, runner_id: int, reason: str) -> None:
        """The job's process died without recording an end: queue it again, or fail it."""
        now = time.time()
        with self.transaction():
            row = self.sql("SELECT attempts, max_attempts FROM job WHERE id=? AND status='running'"
                           " AND runner_id=?", (job_id, runner_id)).fetchone()
            if row is None:
                return
            attempts, max_attempts = row
            if attempts >= max_attempts:
                self.sql("UPDATE job SET status='failed', finished_at=?, updated_at=?, runner_id=NULL, pid=NULL,"
                         " error=? WHERE id=?", (now, now, f"{reason}, {attempts} times", job_id))
            else:
                self.sql("UPDATE job SET status='queued', updated_at=?, runner_id=NULL, pid=NULL WHERE id=?",
                         (now, job_id))
            self.sql("INSERT INTO job_event (job_id, ts, kind, message) VALUES (?,?,?,?)",
                     (job_id, now, "warning", reason))

    def fail_dependents(self) -> list[int]:
        """Waiting jobs one of whose dependencies failed or was cancelled fail without running
        (and so do the jobs that wait for those, transitively)."""
        failed: list[int] = []
        while True:
            rows = self.sql("""SELECT d.job_id, d.depends_on, j2.status FROM job_dep d
                               JOIN job j ON j.id = d.job_id JOIN job j2 ON j2.id = d.depends_on
                               WHERE j.status IN ('queued', 'paused', 'interrupted')
                               AND j2.status IN ('failed', 'cancelled')""").fetchall()
            if not rows:
                return failed
            now = time.time()
            with self.transaction():
                for job_id, dep, status in rows:
                    why = f"dependency-failed: job {dep} {status}"
                    if self.sql("UPDATE job SET status='failed', finished_at=?, updated_at=?, error=? WHERE id=?"
                                " AND status IN ('queued', 'paused', 'interrupted')",
                                (now, now, why, job_id)).rowcount:
                        self.sql("INSERT INTO job_event (job_id, ts, kind, message) VALUES (?,?,?,?)",
                                 (job_id, now, "log", f"{why}; not run"))
                        failed.append(job_id)

    def set_pid(self, job_id: int, pid: int) -> None:
        self.sql("UPDATE job SET pid=? WHERE id=?", (pid, job_id))

    def finish(self, job_id: int, status: Status, *, runner_id: int | None = None, output: Any = None,
               error: str | None = None, run_seconds: float = 0.0, wait_children: bool = False) -> bool:
        """Record how a run ended. Returns False if the job is no longer this runner's."""
        now = time.time()
        owned = "" if runner_id is None else f" AND runner_id={int(runner_id)}"
        fields = ("status=?, control=NULL, updated_at=?, run_seconds=run_seconds+?, runner_id=NULL,"
                  " pid=NULL, wait_children=?")
        params: list[Any] = [str(status), now, run_seconds, int(wait_children)]
        if status in FINISHED:
            fields += ", finished_at=?, output=?, error=?"
            params += [now, codec.pack(output), error]
        elif status is Status.PAUSED:
            fields += ", paused_at=?"
            params.append(now)
        elif error is not None:
            fields += ", error=?"
            params.append(error)
        cur = self.sql(f"UPDATE job SET {fields} WHERE id=? AND status='running'{owned}", params + [job_id])
        return cur.rowcount == 1

    def set_status(self, job_id: int, status: Status, *, only_from: Iterable[str], error: str | None = None,
                   control: str | None = None, reset_attempts: bool = False) -> bool:
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
            params.append(error)
        if reset_attempts:
            extra += ", attempts=0"
        cur = self.sql(f"UPDATE job SET status=?, updated_at=?, control=?{extra}"
                       f" WHERE id=? AND status IN ({','.join('?' * len(src))})", params + [job_id, *src])
        return cur.rowcount == 1

    def set_control(self, job_id: int, control: str | None, *, only_status: str = "running") -> bool:
        cur = self.sql("UPDATE job SET control=?, updated_at=? WHERE id=? AND status=?",
                       (control, time.time(), job_id, only_status))
        return cur.rowcount == 1

    def set_priority(self, job_id: int, priority: int) -> None:
        self.sql("UPDATE job SET priority=?, updated_at=? WHERE id=?", (priority, time.time(), job_id))

    def recover_orphans(self) -> list[int]:
        """Jobs marked running whose runner is gone become interrupted (or failed
        after too many attempts). Returns their ids."""
        runners = self.runners(live_only=False)
        dead = [r.id for r in runners if not runner_alive(r)]
        live = [r.id for r in runners if r.id not in dead]
        cond = "status='running'"
        if live:  # (NOT IN over an empty or NULL list would match nothing)
            cond += f" AND (runner_id IS NULL OR runner_id NOT IN ({','.join('?' * len(live))}))"
        if not dead and not self.sql(f"SELECT 1 FROM job WHERE {cond} LIMIT 1", live).fetchone():
            return []
        now = time.time()
        with self.transaction():
            if dead:
                self.sql(f"DELETE FROM runner WHERE id IN ({','.join('?' * len(dead))})", dead)
            rows = self.sql(f"SELECT id, attempts, max_attempts FROM job WHERE {cond}", live).fetchall()
            for job_id, attempts, max_attempts in rows:
                if attempts >= max_attempts:
                    self.sql("UPDATE job SET status='failed', finished_at=?, updated_at=?, runner_id=NULL,"
                             " pid=NULL, error=? WHERE id=?",
                             (now, now, f"the process running it died {attempts} times", job_id))
                else:
                    self.sql("UPDATE job SET status='interrupted', updated_at=?, runner_id=NULL, pid=NULL"
                             " WHERE id=?", (now, job_id))
                self.sql("INSERT INTO job_event (job_id, ts, kind, message) VALUES (?,?,?,?)",
                         (job_id, now, "warning", "its runner died; it resumes from its last checkpoint"
                          if attempts < max_attempts else "its runner died too often; marked failed"))
        return [r[0] for r in rows]

    def requeue_interrupted(self) -> int:
        now = time.time()
        return self.sql("UPDATE job SET status='queued', updated_at=? WHERE status='interrupted'", (now,)).rowcount

    # -- history ---------------------------------------------------------------
    def prune(self, older_than: float) -> int:
        cutoff = time.time() - older_than
        with self.transaction():
            return self.sql(f"DELETE FROM job WHERE status IN {_FINISHED_SQL} AND finished_at < ?"
                            " AND id NOT IN (SELECT parent_id FROM job WHERE parent_id IS NOT NULL"
                            f" AND status NOT IN {_FINISHED_SQL})", (cutoff,)).rowcount


def runner_alive(r: RunnerRecord) -> bool:
    if time.time() - r.heartbeat_at > LEASE_SECONDS:
        return False
    if r.host == HOST:
        return pid_alive(r.pid, r.pid_start)
    return True
