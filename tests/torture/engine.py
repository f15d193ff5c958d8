"""The machinery of one trial: a private library, real runners, the real CLI, and a watcher.

The watcher does not trust the job record's word about who runs a job: it
samples every pid the record has ever named for the job and /proc, and reports
when two of them are alive and running (not stopped) for the job at once for
longer than a grace period, and, at the end, any process that still has the
trial's library on its command line.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOUBLE_GRACE = 3.0  # seconds two processes may both hold a job (a fenced one needs a moment to notice)
TERMINAL = {"completed", "completed-with-errors", "failed", "cancelled"}


def _arg(a) -> str:
    return os.fsdecode(a) if isinstance(a, (str, bytes, os.PathLike)) else str(a)


def proc_state(pid: int) -> tuple[str, str] | None:
    """(state letter, start time) of a live process, or None."""
    try:
        data = open(f"/proc/{pid}/stat", "rb").read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return fields[0].decode(), fields[19].decode()


def cmdline(pid: int) -> bytes:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return b""


def children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                out += [int(x) for x in open(f"/proc/{pid}/task/{tid}/children").read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def processes_of(*keys: str) -> list[int]:
    """Live (non-zombie) processes whose command line names this library's directory or URL
    (every runner we start, and what they fork, has it there), or its local data folder."""
    wanted = [os.fsencode(k) for k in keys]
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid() and any(k in cmdline(int(d)) for k in wanted):
            st = proc_state(int(d))
            if st and st[0] != "Z":
                out.append(int(d))
    return out


def _pg_rows(url: str, query: str, params=()) -> list:
    """The same read on a PostgreSQL library (psycopg directly, never through sdjobs)."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
            return conn.execute(query.replace("?", "%s"), params).fetchall()
    except psycopg.Error:
        return []


class Trial:
    """One trial's world: a temp dir, a library, runners, a CLI, a watcher."""

    def __init__(self, base: str, lib_dir: str | None = None, url: str | None = None) -> None:
        """``url``: a PostgreSQL library (a fresh database) instead of a SQLite file in ``lib_dir``."""
        self.base = base
        self.lib_dir = lib_dir or os.path.join(base, "lib")
        os.makedirs(self.lib_dir, exist_ok=True)
        self.url = url
        self.lib = url or os.path.join(self.lib_dir, "library.db")
        self.xdg = os.path.join(base, "xdg-data")
        # what names this trial's processes: the library's folder, or its URL and local data folder
        self.keys = (self.lib_dir,) if url is None else (url, self.xdg)
        self.env = {**os.environ, "SDJOBS_LIBRARY": self.lib, "XDG_DATA_HOME": self.xdg,
                    "XDG_CACHE_HOME": os.path.join(base, "xdg-cache"), "NO_COLOR": "1",
                    "SDJOBS_RUNNER_IDLE_EXIT": "5"}
        self.env.pop("SDJOBS_DEBUG", None)
        self.runners: list[subprocess.Popen] = []
        self.job_pids: dict[int, dict[int, str]] = {}  # job id -> {pid: start time}
        self.violations: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.crashes = 0  # crashes injected into a running job (each should cost one attempt)
        self.maybe_crashes = 0  # kills that landed as the job recorded its end (each costs one attempt or none)
        self.faults: list[str] = []  # kinds actually injected

    # -- the CLI -------------------------------------------------------------------------
    def cli(self, *args, timeout: float = 60, env: dict | None = None, prefix: tuple = ()) -> subprocess.CompletedProcess:
        argv = [*prefix, sys.executable, "-m", "sdjobs", "-L", self.lib, *map(_arg, args)]
        try:
            return subprocess.run(argv, capture_output=True, timeout=timeout, env={**self.env, **(env or {})},
                                  cwd=self.base, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.violations.append(f"HANG: `sdjobs {' '.join(map(_arg, args))}` still running after {timeout:g}s")
            return subprocess.CompletedProcess(argv, -999, e.stdout or b"", e.stderr or b"")

    def check_message(self, proc: subprocess.CompletedProcess, what: str) -> None:
        """Errors reach the user as one line: no traceback, no 'ended without an exit status'."""
        err = proc.stderr.decode(errors="replace")
        if "Traceback" in err or "ended without an exit status" in err or "rollback" in err:
            first = [ln for ln in err.splitlines() if ln.strip()][-1:] or [""]
            self.violations.append(f"{what}: raw error instead of a one-line message: {first[0][:160]}")

    def show(self, job_id: int) -> dict | None:
        proc = self.cli("jobs", "show", job_id, "--json", timeout=30)
        try:
            return json.loads(proc.stdout)
        except ValueError:
            return None

    # -- runners -------------------------------------------------------------------------
    def start_runner(self, wait: bool = True) -> subprocess.Popen:
        log = open(os.path.join(self.base, f"runner-{len(self.runners)}.log"), "wb")
        r = subprocess.Popen([sys.executable, "-m", "sdjobs", "-L", self.lib, "runner", "--workers", "2"],
                             start_new_session=True, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                             cwd=self.base, stdin=subprocess.DEVNULL)
        log.close()
        self.runners.append(r)
        if wait:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and r.poll() is None:
                if any(pid == r.pid for pid, _ in self.db("SELECT pid, id FROM runner")):
                    break
                time.sleep(0.05)
        return r

    @property
    def runner(self) -> subprocess.Popen | None:
        live = [r for r in self.runners if r.poll() is None]
        return live[-1] if live else None

    def db(self, query: str, params=()) -> list:
        """Read the library directly (read-only; never through sdjobs), [] when unreadable."""
        if self.url is not None:
            return _pg_rows(self.url, query, params)
        try:
            conn = sqlite3.connect(f"file:{self.lib}?mode=ro", uri=True, timeout=2)
            try:
                return conn.execute(query, params).fetchall()
            finally:
                conn.close()
        except sqlite3.Error:
            return []

    def job_row(self, job_id: int) -> dict | None:
        rows = self.db("SELECT status, pid, attempts, runner_id FROM job WHERE id=?", (job_id,))
        if not rows:
            return None
        return dict(zip(("status", "pid", "attempts", "runner_id"), rows[0], strict=True))

    def wait_status(self, job_id: int, statuses: set[str], timeout: float = 30) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.job_row(job_id)
            if row and row["status"] in statuses:
                return row["status"]
            time.sleep(0.05)
        return None

    def running_pid(self, job_id: int, timeout: float = 20) -> int | None:
        """The pid of the process running the job, once it runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.job_row(job_id)
            if row and row["status"] in TERMINAL:
                return None
            if row and row["status"] == "running" and row["pid"] and proc_state(row["pid"]):
                return row["pid"]
            time.sleep(0.02)
        return None

    # -- the watcher ---------------------------------------------------------------------
    def watch(self, job_id: int) -> None:
        self._watcher = threading.Thread(target=self._watch, args=(job_id,), daemon=True)
        self._watcher.start()

    def _watch(self, job_id: int) -> None:
        both_since: float | None = None
        pids = self.job_pids.setdefault(job_id, {})
        while not self._stop.is_set():
            row = self.job_row(job_id)
            if row and row["pid"] and row["pid"] not in pids:
                st = proc_state(row["pid"])
                if st:
                    pids[row["pid"]] = st[1]
            running = []
            for pid, start in pids.items():
                st = proc_state(pid)
                if st and st[1] == start and st[0] not in "ZTtX":
                    running.append(pid)
            self.samples += 1
            if len(running) > 1:
                both_since = both_since or time.monotonic()
                if time.monotonic() - both_since > DOUBLE_GRACE:
                    self.violations.append(f"DOUBLE EXECUTION: job {job_id} run by processes {running} at once "
                                           f"for over {DOUBLE_GRACE:g}s")
                    return
            else:
                both_since = None
            time.sleep(0.1)

    # -- the end -------------------------------------------------------------------------
    def wait_end(self, job_id: int, timeout: float, quiet: bool = False) -> dict | None:
        """Wait until the job is finished, resuming it when it was left paused or interrupted
        (with a runner), as a user would; None (and a HANG) if it never finishes."""
        deadline = time.monotonic() + timeout
        nudged = 0.0
        while time.monotonic() < deadline:
            row = self.job_row(job_id)
            if row is None and self.url is None and not os.path.exists(self.lib):
                return None
            if row and row["status"] in TERMINAL:
                return self.show(job_id) or row
            if self.runner is None:
                self.start_runner()
            if row and row["status"] in ("paused", "interrupted") and time.monotonic() - nudged > 3:
                self.cli("jobs", "resume", job_id, timeout=30)
                nudged = time.monotonic()
            time.sleep(0.1)
        row = self.job_row(job_id)
        if not quiet:
            self.violations.append(f"HANG: job {job_id} not finished after {timeout:g}s (status {row and row['status']})")
        return None

    def wait_gone(self, runners: list, timeout: float) -> None:
        """Wait until no process of these runners' process groups is left (a runner whose library
        was lost stops by itself, and its jobs with it); a violation if one still runs."""
        groups = {r.pid for r in runners}

        def left() -> list[int]:
            out = []
            for pid in processes_of(*self.keys):
                try:
                    if os.getpgid(pid) in groups:
                        out.append(pid)
                except ProcessLookupError:
                    pass
            return out

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not left():
                return
            time.sleep(0.2)
        self.violations.append(f"runner or job still running {timeout:g}s after its library was lost: {left()}")

    def shutdown(self) -> None:
        """Stop the runners gracefully, then check that nothing of this library still runs."""
        self._stop.set()
        if self._watcher:
            self._watcher.join(5)
        for r in self.runners:
            if r.poll() is None:
                r.send_signal(signal.SIGTERM)
        for r in self.runners:
            try:
                r.wait(40)
            except subprocess.TimeoutExpired:
                self.violations.append(f"runner {r.pid} still alive 40s after SIGTERM")
        deadline = time.monotonic() + 5
        left = processes_of(*self.keys)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = processes_of(*self.keys)
        if left:
            self.violations.append(f"ORPHAN PROCESSES: {len(left)} process(es) of this library alive after its "
                                   f"runners ended: {left}")
        for pid in left:  # ours: started by this trial's runners
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for r in self.runners:
            try:
                os.killpg(r.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
