"""The runner's supervisor loop.

It claims queued jobs (priority, then age), forks one process per running job,
grants fan-out tokens, heartbeats, reaps, recovers jobs whose runner died, and
on SIGTERM/SIGINT asks every running job to checkpoint and stop before it
exits. The loop sleeps in ``connection.wait`` on the job processes' pipes and
sentinels, so it wakes as soon as there is something to do.
"""

from __future__ import annotations

import dataclasses
import importlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from multiprocessing.connection import wait
from typing import Any

from ..core.status import Status
from ..store import events, waits
from ..store.library import AnyLibrary, LibraryUnreachable, PostgresLibrary, storage_fault
from ..store.open import open_store
from . import doorbell, host, leftovers, prestart
from .gate import Gate
from .patience import OUTAGE_EXIT, patiently
from .scheduler import Scheduler
from .spare import Spare

HEARTBEAT_EVERY = 1.0
RECOVER_EVERY = 5.0
CLAIM_EVERY = 1.0
SHUTDOWN_GRACE = 30.0
SERVER_AFTER_IDLE = 0.5  # seconds idle before the command server starts
# A spare job process (runner/spare.py) is forked once the runner has been idle this long: not
# while the command of the job that just ended prints its results (three forks, and the pages
# each process then writes, beside that command on a 2-core machine).
SPARE_AFTER_IDLE = 0.1
OUT_OF_REACH_WAIT = 1.0  # between tries while the library's server cannot be reached
LEAVE_TEST_DELAY = float(os.environ.get("SDJOBS_TEST_LEAVE_DELAY", "0"))  # tests only: see _leave
IDLE_WAIT = 0.02  # between looks at the queue (PRAGMA data_version: microseconds), unless the doorbell rings
# An idle runner that has a doorbell looks every DOZE_WAIT once nothing has happened for BRISK_FOR
# seconds (no job running or ended, no ring): every 20 ms it woke 47 times a second, 1.6% of a core
# for the 10 minutes before its idle exit (2026-12-07). A command that queues a job rings (doorbell.py);
# what queues one without ringing (the store's own callers, a runner of another host) waits at most
# DOZE_WAIT more, and only after BRISK_FOR of quiet: work that comes in bursts never meets it.
# A PostgreSQL library's runner stays brisk: other hosts' commands cannot ring it.
DOZE_WAIT = 0.25
BRISK_FOR = 10.0


@dataclasses.dataclass
class Running:
    job_id: int
    process: Any
    conn: Any
    priority: int
    claim: int


class Supervisor:
    def __init__(self, library: AnyLibrary, workers: int | None = None, *, exit_when_idle: bool = False,
                 idle_exit: float | None = None, first_idle_exit: float | None = None,
                 mode: str = "foreground") -> None:
        self.library = library
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.exit_when_idle = exit_when_idle
        self._left = False  # unregistered when idle, about to exit (_leave)
        self.idle_exit = idle_exit
        self.first_idle_exit = first_idle_exit  # until the first job: a command's prestart that came to nothing
        self.mode = mode
        self.running: dict[int, Running] = {}
        self.gate = Gate(self.workers)
        self._stop = False
        self.why_stopping = "it was asked to stop"  # for its jobs' ``interrupted`` events
        self._stop_asked = False
        self._waits: dict[int, tuple[int, str]] = {}  # what its jobs wait for, as last recorded
        self._mp = multiprocessing.get_context("fork")
        self._cli_server: Any = None  # a subprocess.Popen, or cli/server.py's ForkedServer
        self._cleaners: list = []  # processes removing the temporaries of jobs that crashed for good
        self.lost: str | None = None  # why the library can no longer be used, once it cannot
        self.unreachable_since: float | None = None  # (monotonic) while its server cannot be reached
        self._claimed_version: int | None = None  # the library's data_version at the last claim
        self._claimed_at = 0.0
        self._warm = False  # the job modules are imported
        self._served = False  # the command server was started
        self._spare: Spare | None = None  # a job process forked ahead of its job (runner/spare.py)
        self._spares = True  # False once forking one failed
        self.bell: doorbell.Doorbell | None = None  # rung by commands that queued a job (doorbell.py)
        self._rung_at = 0.0  # (monotonic) when it last rang
        # A signal's handler writes here, and _wait waits on it: the loop sees the stop at once,
        # not at the end of a doze (a SIGTERM took 216 ms to stop a dozing runner, 82 ms a brisk one;
        # with the pipe 65-119 ms and 67-120 ms, 3 each)
        self._signalled_r = self._signalled_w = -1  # (made by run)

    def _on_signal(self, signum, _frame) -> None:
        self._stop = True
        self.why_stopping = f"it received {signal.Signals(signum).name}"
        try:
            os.write(self._signalled_w, b"!")
        except OSError:  # full of wake-ups already (or closed: the runner is ending)
            pass

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_signal)  # a closed terminal: checkpoint and stop, as SIGTERM
        self.library.ensure_dirs()
        prestart.hold(str(self.library.data_dir))  # commands see a live runner without SQLite
        self.store = store = open_store(self.library)
        self.runner_id = store.register_runner(self.workers, self.mode)
        self.bell = doorbell.open_bell(str(self.library.data_dir))
        self._signalled_r, self._signalled_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._started()
        try:
            store.recover_orphans(other_hosts=True)
            store.requeue_interrupted()
            self._loop()
        except Exception as exc:
            if storage_fault(exc, self.library) is not None:
                self.lost = "cannot be used"  # (said by the caller) its jobs fail at their next write
            raise
        finally:
            bell, self.bell = self.bell, None  # (not waited on: the shutdown's waits are for its jobs)
            if bell is not None:
                bell.close()
            self._drop_spare()
            self._stop_cli_server()
            if self.lost:
                self._let_go()
            elif not self._left:  # (an idle runner that left has no job and is unregistered)
                self._shutdown()  # (its waits are woken by a signal too)
                store.unregister_runner(self.runner_id)
            store.close()
            fds = self._signalled_r, self._signalled_w
            self._signalled_r = self._signalled_w = -1  # first: a handler never writes to a number reused
            for fd in fds:
                os.close(fd)
        return 1 if self.lost else 0

    def _started(self) -> None:
        """The library is open (and trusted) and this runner registered: a hook for the log."""

    def _loop(self) -> None:
        """Until stopped: run due schedules, heartbeat, recover, claim, and when idle warm up,
        start the command server, or exit; then sleep until a job process has something to say."""
        store = self.store
        last_hb = last_recover = 0.0
        idle_since = time.monotonic()
        scheduler = Scheduler(store)
        first = self.first_idle_exit is not None  # started early by a command; its job not seen yet
        while not self._stop:
            try:
                now = time.monotonic()
                scheduler.tick()  # due schedules submit their job commands (at most once a second)
                if now - last_hb >= HEARTBEAT_EVERY:
                    if not self._heartbeat():
                        break
                    last_hb = now
                if now - last_recover >= RECOVER_EVERY:
                    self._recover()
                    last_recover = now
                if self._claim(now):
                    first = False
                if not self.running:
                    self._idle(now - idle_since, first)
                idle_exit = self.first_idle_exit if first else self.idle_exit
                if self.running:
                    idle_since = now
                elif self.exit_when_idle and not store.has_runnable():
                    if self._leave():
                        break
                elif idle_exit is not None and now - idle_since >= idle_exit and not store.has_runnable() \
                        and not store.has_schedules():  # schedules need a runner
                    if self._leave():
                        break
                self._wait(IDLE_WAIT if self._brisk(now, idle_since) else DOZE_WAIT)
            except LibraryUnreachable as exc:  # (PostgreSQL down, a network cut): wait for it
                self._out_of_reach(exc)
                continue
            if self.unreachable_since is not None:
                self._back_in_reach()

    def _brisk(self, now: float, idle_since: float) -> bool:
        """Look at the queue every IDLE_WAIT, not DOZE_WAIT: a job runs or ended lately, the
        doorbell rang lately, or a job could be queued here without a ring reaching this runner."""
        return (bool(self.running) or now - max(idle_since, self._rung_at) < BRISK_FOR or self.bell is None
                or isinstance(self.library, PostgresLibrary))

    def _leave(self) -> bool:
        """Idle, about to exit: unregister, then look at the queue once more. A command that
        queued its job after this runner's last look, but saw it still registered, started no
        runner of its own; that job is taken here (registered again) instead of being left
        queued with no runner. True when the runner may exit."""
        if LEAVE_TEST_DELAY:  # (tests: a job queued between the look and the leaving)
            time.sleep(LEAVE_TEST_DELAY)
        store = self.store
        store.unregister_runner(self.runner_id)
        if not store.has_runnable():
            self._left = True
            return True
        self.runner_id = store.register_runner(self.workers, self.mode)
        return False

    def _out_of_reach(self, exc: LibraryUnreachable) -> None:
        """The library cannot be reached: say so once, and try again in a second. The job
        processes keep running; their own writes wait too (runner/patience.py)."""
        if self.unreachable_since is None:
            self.unreachable_since = time.monotonic()
            print(f"sdjobs runner: {exc}; waiting for it", file=sys.stderr, flush=True)
        time.sleep(OUT_OF_REACH_WAIT)

    def _back_in_reach(self) -> None:
        seconds = time.monotonic() - (self.unreachable_since or 0.0)
        self.unreachable_since = None
        print(f"sdjobs runner: the library is back after {seconds:.0f} s", file=sys.stderr, flush=True)

    def _heartbeat(self) -> bool:
        """Say this runner is alive (with its jobs and their waits); False when it must stop:
        its library is lost, or `sdjobs runner stop` asked."""
        store = self.store
        self.lost = store.lost()
        if self.lost:  # its jobs see it too, and stop for good (runner/backend.py)
            print(f"sdjobs runner: the library {self.library.db_path} {self.lost}; stopping",
                  file=sys.stderr, flush=True)
            self.why_stopping = f"its library {self.lost}"
            return False
        prestart.keep_held(str(self.library.data_dir))
        if not store.heartbeat(self.runner_id, list(self.running), len(self.running)) \
                or store.runner_stopping(self.runner_id):
            self.why_stopping = "`sdjobs runner stop` asked it to stop"
            return False
        self._record_waits()
        return True

    def _recover(self) -> None:
        """Jobs of runners that died are queued again (or fail, after too many crashes), interrupted
        jobs are queued again, jobs waiting on a failed one fail, and priorities changed since apply."""
        store = self.store
        for job_id in store.recover_orphans(other_hosts=True):
            if store.get(job_id).status == Status.FAILED:  # its runner died too often
                self._clean_up(job_id)
        self._cleaners = [p for p in self._cleaners if p.is_alive()]  # (reaps the others)
        store.requeue_interrupted()
        store.fail_dependents()
        self._sync_priorities()

    def _claim(self, now: float) -> bool:
        """Claim queued jobs for the free workers, at once when the library changed (PRAGMA
        data_version), else once in CLAIM_EVERY; True if a job started."""
        free = self.workers - len(self.running)
        if free <= 0:
            return False
        version = self.store.data_version()
        if version == self._claimed_version and now - self._claimed_at < CLAIM_EVERY:
            return False
        self._claimed_version, self._claimed_at = version, now
        started = False
        for rec in self.store.claim(self.runner_id, free):
            self._start(rec)
            started = True
        return started

    def _idle(self, idle_for: float, first: bool) -> None:
        """No job runs: import the job modules (forked jobs start warm), and after SERVER_AFTER_IDLE
        start the command server (neither before a started-early runner has had its job: the
        command that started it submits any moment, and every job type's imports would delay it)."""
        if not self._warm and not first:
            self._warm = True
            self._warm_up()
        if self._warm and idle_for >= SPARE_AFTER_IDLE and not self.exit_when_idle and not self._stop:
            self._keep_spare()
        if not self._served and not first and idle_for >= SERVER_AFTER_IDLE:
            self._served = True
            self._start_cli_server()

    def _warm_up(self) -> None:
        """What every job process needs, imported once here, where each one is forked from."""
        _warm_up()

    def _record_waits(self) -> None:
        """Its running jobs that want a fan-out token and have none say so (store/waits.py)."""
        now = {job_id: (self.running[job_id].claim, waits.held_by(holders))
               for job_id, holders in self.gate.starved().items() if job_id in self.running}
        changes: dict[int, tuple[int, str | None]] = {
            job_id: v for job_id, v in now.items() if self._waits.get(job_id) != v}
        changes.update({job_id: (claim, None) for job_id, (claim, _) in self._waits.items() if job_id not in now})
        self.store.set_waits(changes)
        self._waits = now

    def served_by(self, server: Any) -> None:
        """The command server this runner forked before its loop (runner/background.py)."""
        self._cli_server, self._served = server, True

    def _start_cli_server(self) -> None:
        """The command server (cli/server.py) that runs sdjobs commands of this library without
        their start-up cost; not for a runner that is about to exit when idle."""
        if self.exit_when_idle or os.environ.get("SDJOBS_CLI_SERVER", "1") == "0":
            return
        try:  # its diagnostics go to the runner log: it must not hold a foreground runner's pipes open
            log = os.open(self.library.runner_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            try:
                self._cli_server = subprocess.Popen(
                    prestart.python_argv("sdjobs.cli.server", str(self.library.db_path), str(os.getpid())),
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, close_fds=True)
            finally:
                os.close(log)
        except OSError as exc:
            print(f"sdjobs runner: cannot start the command server: {exc}", file=sys.stderr)

    def _stop_cli_server(self) -> None:
        proc = self._cli_server
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _start(self, rec) -> None:
        spare, self._spare = self._spare, None
        if spare is not None and spare.hand(rec.id, rec.claim, self.runner_id):
            proc, parent_end = spare.process, spare.conn
        else:
            parent_end, child_end = self._mp.Pipe()
            proc = self._mp.Process(target=host.process_main, name=f"sdjobs-job-{rec.id}",
                                    args=(str(self.library.db_path), rec.id, rec.claim, self.runner_id,
                                          os.getpid(), child_end, self.workers))
            proc.start()
            child_end.close()
        self.running[rec.id] = Running(rec.id, proc, parent_end, rec.priority, rec.claim)
        self.gate.join(rec.id, parent_end, rec.priority)

    def _keep_spare(self) -> None:
        """Idle: have a spare job process ready for the next job (one that died is replaced)."""
        if self._spare is not None and not self._spare.alive():
            self._drop_spare()
        if self._spare is None and self._spares:
            try:
                self._spare = Spare(self._mp, str(self.library.db_path), self.workers)
            except OSError as exc:  # (no process to spare: jobs are forked when they come, as before)
                self._spares = False
                print(f"sdjobs runner: no spare job process: {exc}", file=sys.stderr, flush=True)

    def _drop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()

    def _clean_up(self, job_id: int) -> None:
        """Remove the temporaries of a job that failed by crashing, in a process of its own."""
        proc = self._mp.Process(target=leftovers.clean_up_main, name=f"sdjobs-clean-{job_id}",
                                args=(str(self.library.db_path), job_id, os.getpid()))
        proc.start()
        self._cleaners.append(proc)

    def _wait(self, timeout: float) -> None:
        by_conn = {r.conn: r for r in self.running.values()}
        by_sentinel = {r.process.sentinel: r for r in self.running.values()}
        bell = self.bell
        ready = wait([*by_conn, *by_sentinel, self._signalled_r, *([bell.sock] if bell is not None else [])], timeout)
        if self._signalled_r in ready:
            os.read(self._signalled_r, 64)  # (the handler has set what the loop looks at)
        if bell is not None and bell.sock in ready:
            bell.drain()  # a job was queued: the loop claims it now (_claim sees data_version move)
            self._rung_at = time.monotonic()
        for obj in ready:
            if obj in by_conn:
                job = by_conn[obj]
                if not self.gate.handle(job.job_id):
                    by_sentinel.setdefault(job.process.sentinel, job)
        for obj in ready:
            if obj in by_sentinel and not by_sentinel[obj].process.is_alive():
                self._reap(by_sentinel[obj])

    def _reap(self, job: Running, killed: bool = False) -> None:
        job.process.join()
        self.running.pop(job.job_id, None)
        self.gate.leave(job.job_id)
        self.gate.grant()
        job.conn.close()
        code = job.process.exitcode
        facts = {"pid": job.process.pid, "runner_id": self.runner_id, "runner_pid": os.getpid()}
        if code == OUTAGE_EXIT and not killed:  # it gave up waiting for the library: not a crash
            patiently(self.store.let_go, job.job_id, job.claim, "its process gave up waiting for the library,"
                      " which was out of reach; it resumes from its checkpoint", **facts)
        elif code != 0 and not killed:
            if code == host.CRASH_EXIT:
                reason, word = "a process working for it (a pool worker or the index writer) died", "worker-lost"
            else:
                why = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                reason, word = f"its process {job.process.pid} died ({why})", "process-died"
                facts["exit"] = code
            if self.store.crashed(job.job_id, job.claim, reason, word, **facts):
                self._clean_up(job.job_id)  # failed for good: no run of it will remove its temporaries
        elif self._stop_asked and self.store.get(job.job_id).status == "interrupted":
            self._interrupted(job.job_id, facts)
        self.store.fail_dependents()  # jobs waiting --after a job that just failed fail now, not in 5 s

    def _sync_priorities(self) -> None:
        if self.running:
            for rec in self.store.list_jobs(ids=list(self.running)):
                self.gate.set_priority(rec.id, rec.priority)

    def _interrupted(self, job_id: int, facts: dict) -> None:
        events.interrupted(self.store, job_id, "shutdown",
                           f"its runner {self.runner_id} (pid {os.getpid()}) stopped: {self.why_stopping};"
                           " it resumes from its checkpoint", stopped=self.why_stopping, **facts)

    def _let_go(self) -> None:
        """The library is lost: nothing can be recorded any more. Each job stops by itself at
        its next control check and removes its temporaries; wait for that, kill what is left."""
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while self.running and time.monotonic() < deadline:
            self.gate.tokens = max(self.gate.tokens, len(self.running) * 4)  # none waits for a token
            by_conn = {r.conn: r for r in self.running.values()}
            for obj in wait(list(by_conn) + [r.process.sentinel for r in self.running.values()], 0.1):
                if obj in by_conn:
                    self.gate.handle(by_conn[obj].job_id)
            for job in [r for r in self.running.values() if not r.process.is_alive()]:
                job.process.join()
                self.running.pop(job.job_id)
                self.gate.leave(job.job_id)
                job.conn.close()
        for job in self.running.values():
            job.process.kill()
            job.process.join()

    def _shutdown(self) -> None:
        """Ask every running job to checkpoint and stop; wait for them."""
        self._stop_asked = True
        if self._stop and self.store.runner_stopping(self.runner_id):  # the signal came with the flag
            self.why_stopping = "`sdjobs runner stop` asked it to stop"
        self.store.request_shutdown(self.runner_id)
        deadline = time.monotonic() + SHUTDOWN_GRACE
        last_hb = time.monotonic()
        while self.running and time.monotonic() < deadline:
            self.gate.tokens = max(self.gate.tokens, len(self.running) * 4)
            self._wait(0.1)
            if time.monotonic() - last_hb >= HEARTBEAT_EVERY:  # still alive, for runners on other hosts
                self.store.heartbeat(self.runner_id, list(self.running), len(self.running))
                last_hb = time.monotonic()
        for job in list(self.running.values()):  # not a crash of the job: no attempt is counted
            job.process.kill()
            self._reap(job, killed=True)
            self.store.log(job.job_id, f"it did not stop within {SHUTDOWN_GRACE:g} s of the runner's shutdown;"
                           " killed, it resumes from its last checkpoint", "warning")
        for job_id in self.store.owned_by(self.runner_id):
            if self.store.finish(job_id, Status.INTERRUPTED, runner_id=self.runner_id):
                self._interrupted(job_id, {"runner_id": self.runner_id, "runner_pid": os.getpid()})


# What every job process imports, whatever its type: the data plane (``ctx.library.data``, which
# the index keeper of copy, delete and move opens too) and the library's identity.
STORE_MODULES = ("sdjobs.store.data_sqlite", "sdjobs.store.identity")


def _warm_up() -> None:
    from ..core import registry

    for module in STORE_MODULES:
        importlib.import_module(module)
    try:
        registry.load_all()
    except Exception:  # noqa: BLE001 - a broken plugin is reported when a job of its type runs
        return
    for cls in registry.all_types().values():
        for module in cls.preload:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - the job's own import reports it
                pass
