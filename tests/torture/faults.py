"""Interruptions at random points of a running job.

Each fault takes the trial, the job id and a seeded rng, injects itself while
the job runs, and returns True when it was injected (False when the job ended
before it could be: the trial then counts it as not injected). Crash faults
bump ``trial.crashes``: the job's attempts must grow by exactly that much.
Faults that need their own setup (a full destination, a full library disk)
are set up by the operation (run.py) and only observed here.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time

from .engine import TERMINAL, Trial, children, proc_state

LEASE = 15.0  # store/leases.py LEASE_SECONDS


def _pause(rng: random.Random, lo: float = 0.05, hi: float = 0.6) -> None:
    time.sleep(rng.uniform(lo, hi))


def pause_resume(t: Trial, job: int, rng: random.Random) -> bool:
    """Pause and resume several times."""
    done = 0
    for _ in range(rng.randrange(2, 5)):
        if not t.running_pid(job):
            break
        _pause(rng)
        t.cli("jobs", "pause", job)
        if t.wait_status(job, {"paused"} | TERMINAL, 20) != "paused":
            break
        done += 1
        _pause(rng, 0.1, 1.0)
        t.cli("jobs", "resume", job)
    return done > 0


def cancel_retry(t: Trial, job: int, rng: random.Random) -> bool:
    if not t.running_pid(job):
        return False
    _pause(rng)
    t.cli("jobs", "cancel", job)
    if t.wait_status(job, TERMINAL, 30) != "cancelled":
        return False
    t.check_message(t.cli("jobs", "retry", job), "jobs retry")
    return True


def _kill(pid: int | None, sig: int = signal.SIGKILL) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def _count_crash(t: Trial, job: int) -> None:
    """A kill of a job seen running costs it one attempt, unless the job recorded its end
    between that look and the kill (seed 2012262040: a delete_trash finished in 1.6 s
    completed under a kill_runner, 0 attempts): then one or none."""
    time.sleep(0.3)  # (a commit in flight as the kill landed)
    row = t.job_row(job)
    if row is not None and row["status"] in TERMINAL:
        t.maybe_crashes += 1
    else:
        t.crashes += 1


def kill_job(t: Trial, job: int, rng: random.Random) -> bool:
    """SIGKILL of the job's process, once or twice (max_attempts is 3)."""
    n = 0
    for _ in range(rng.randrange(1, 3)):
        pid = t.running_pid(job)
        if not pid:
            break
        _pause(rng)
        if t.job_row(job)["status"] == "running" and _kill(pid):
            _count_crash(t, job)
            n += 1
        t.wait_status(job, {"queued", "interrupted"} | TERMINAL, 20)
    return n > 0


def kill_worker(t: Trial, job: int, rng: random.Random) -> bool:
    """SIGKILL of one pool worker (a child of the job process), as the OOM killer does."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = t.running_pid(job, timeout=5)
        if not pid:
            return False
        kids = [k for k in children(pid) if proc_state(k) and proc_state(k)[0] != "Z"]
        if kids:
            _pause(rng, 0.0, 0.2)
            return _kill(rng.choice(kids))
        time.sleep(0.02)
    return False


def _restart_after(t: Trial, victims) -> None:
    for r in victims:
        try:
            r.wait(40)
        except subprocess.TimeoutExpired:
            pass
    t.start_runner()


def kill_runner(t: Trial, job: int, rng: random.Random) -> bool:
    """SIGKILL of the runner alone: its job processes must die with it (one crash)."""
    if not t.running_pid(job):
        return False
    _pause(rng)
    r = t.runner
    if r is None or t.job_row(job)["status"] != "running" or not _kill(r.pid):
        return False
    _count_crash(t, job)
    _pause(rng, 0.0, 1.0)
    _restart_after(t, [r])
    return True


def kill_all(t: Trial, job: int, rng: random.Random) -> bool:
    """SIGKILL of the runner, the job process and its workers at once (power loss of the tree)."""
    if not t.running_pid(job):
        return False
    _pause(rng)
    r = t.runner
    if r is None or t.job_row(job)["status"] != "running":
        return False
    os.killpg(r.pid, signal.SIGKILL)
    _count_crash(t, job)
    _restart_after(t, [r])
    return True


def _signal_runner(t: Trial, job: int, rng: random.Random, sig: int) -> bool:
    if not t.running_pid(job):
        return False
    _pause(rng)
    r = t.runner
    if r is None or not _kill(r.pid, sig):
        return False
    try:
        r.wait(45)
    except subprocess.TimeoutExpired:
        t.violations.append(f"runner still alive 45s after {signal.Signals(sig).name}")
    _restart_after(t, [])
    return True


def sigterm_runner(t: Trial, job: int, rng: random.Random) -> bool:
    """SIGTERM: the job checkpoints and resumes under the next runner (not a crash)."""
    return _signal_runner(t, job, rng, signal.SIGTERM)


def sighup_runner(t: Trial, job: int, rng: random.Random) -> bool:
    """SIGHUP (the terminal closed): a checkpoint as for SIGTERM, or nothing; never a crash."""
    if not t.running_pid(job):
        return False
    _pause(rng)
    r = t.runner
    if r is None or not _kill(r.pid, signal.SIGHUP):
        return False
    time.sleep(1)
    if r.poll() is None:
        return True  # ignored or reloaded: fine
    _restart_after(t, [])
    return True


def stop_cont(t: Trial, job: int, rng: random.Random) -> bool:
    """SIGSTOP of the runner and its job past the lease; a second runner takes the job over;
    SIGCONT: the frozen one must not go on writing (the watcher sees two live executors)."""
    if not t.running_pid(job):
        return False
    _pause(rng)
    r = t.runner
    if r is None or t.job_row(job)["status"] != "running":
        return False
    os.killpg(r.pid, signal.SIGSTOP)
    try:
        t.start_runner()
        deadline = time.monotonic() + LEASE + 15
        while time.monotonic() < deadline:
            row = t.job_row(job)
            if row is None or row["status"] in TERMINAL or (row["status"] == "running" and row["pid"]
                                                            and proc_state(row["pid"])
                                                            and proc_state(row["pid"])[0] not in "TZ"):
                break
            time.sleep(0.2)
    finally:
        os.killpg(r.pid, signal.SIGCONT)
    time.sleep(4)  # long enough for the watcher to see both, if both go on
    return True


def skewed_clock(t: Trial, job: int, rng: random.Random) -> bool:
    """A client whose clock is 2 minutes ahead controls a job that does not exist, then this job:
    the live runner must keep its record, and its job must go on."""
    if not t.running_pid(job):
        return False
    ft = ("faketime", "-f", "+2m")
    t.cli("jobs", "pause", "999999", prefix=ft)
    t.cli("jobs", "ls", prefix=ft)
    if t.runner is not None and not t.db("SELECT id FROM runner WHERE pid=?", (t.runner.pid,)):
        t.violations.append("a client with a skewed clock deleted the live runner's record")
    row = t.job_row(job)
    if row and row["status"] == "interrupted":
        t.violations.append("a client with a skewed clock marked the running job interrupted")
    return True


def source_change(t: Trial, job: int, rng: random.Random, files: list[bytes] | None = None) -> bool:
    """Append to and truncate source files while the job copies them."""
    if not files:
        return False
    if not t.running_pid(job):
        return False
    from .oracles import _digest

    stop = threading.Event()
    # every content each file had (one set per inode: hard links change together); a copy must be one of them
    by_inode: dict[tuple[int, int], set[str]] = {}
    versions: dict[bytes, set[str]] = {}
    for p in files:
        try:
            st = os.lstat(p)
        except FileNotFoundError:  # a move already removed it
            continue
        versions[p] = by_inode.setdefault((st.st_dev, st.st_ino), set())
    files = list(versions)
    if not files:
        return False

    def churn():
        while not stop.is_set():
            p = rng.choice(files)
            try:
                seen = versions[p]
                if not seen:
                    seen.add(_digest(p))
                if rng.random() < 0.5:
                    with open(p, "ab") as f:
                        f.write(os.urandom(rng.randrange(1, 50_000)))
                else:
                    os.truncate(p, os.path.getsize(p) // 2)
                seen.add(_digest(p))
            except OSError:
                pass
            time.sleep(rng.uniform(0.01, 0.1))

    th = threading.Thread(target=churn, daemon=True)
    th.start()
    deadline = time.monotonic() + rng.uniform(0.5, 2.0)
    while time.monotonic() < deadline and t.job_row(job) and t.job_row(job)["status"] not in TERMINAL:
        time.sleep(0.05)
    stop.set()
    th.join()
    t.versions = {p: seen for p, seen in versions.items() if seen}
    return bool(t.versions)


def truncate_library(t: Trial, job: int, rng: random.Random) -> bool:
    """The library file truncated under a live runner: commands must answer (not hang) in one line."""
    if not t.running_pid(job):
        return False
    _pause(rng)
    with open(t.lib, "r+b") as f:
        f.truncate(rng.choice([0, 100, 4096]))
    proc = t.cli("jobs", "ls", timeout=20)
    t.check_message(proc, "jobs ls on a truncated library")
    return True


def remove_library(t: Trial, job: int, rng: random.Random) -> bool:
    """The library removed under a live runner: a command must answer, and two runners must not
    end up running against two libraries of the same name."""
    if not t.running_pid(job):
        return False
    _pause(rng)
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(t.lib + suffix)
        except FileNotFoundError:
            pass
    proc = t.cli("jobs", "ls", timeout=20)
    t.check_message(proc, "jobs ls on a removed library")
    time.sleep(2)
    from .engine import processes_of
    group_leaders = set()
    for p in processes_of(*t.keys):
        try:
            group_leaders.add(os.getpgid(p))
        except ProcessLookupError:
            pass
    if len(group_leaders) > 1:
        t.violations.append(f"{len(group_leaders)} runner process groups alive for one library path "
                            "after it was removed")
    return True


FAULTS = {
    "none": None,
    "pause_resume": pause_resume,
    "cancel_retry": cancel_retry,
    "kill_job": kill_job,
    "kill_worker": kill_worker,
    "kill_runner": kill_runner,
    "kill_all": kill_all,
    "stop_cont": stop_cont,
    "sigterm_runner": sigterm_runner,
    "sighup_runner": sighup_runner,
    "skewed_clock": skewed_clock,
    "full_dest": None,  # set up by the operation: a 2 MiB tmpfs destination
    "full_library": None,  # set up by the trial: the library on a small tmpfs
    "truncate_library": truncate_library,
    "remove_library": remove_library,
    "source_change": source_change,
}
CRASHES = {"kill_job", "kill_runner", "kill_all"}
