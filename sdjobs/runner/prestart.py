"""Start the background runner while a cold command is still importing.

A job command that finds no runner alive submits its job and then starts one
(daemon.ensure_runner). The command's imports and the runner's each take
0.15-0.2 s, one after the other, before the job can begin. The command's entry
point (cli/launch.py) therefore starts the runner first, when it is about to
run a job command in-process, so that both start up at the same time.

Whether a runner is alive must be known without SQLite here, so every runner
holds a shared flock on ``runner.lock`` in the library's data directory for as
long as it lives; the job processes it forks let go of it. A runner started here
inherits the lock from this process, so it holds the lock before its first
instruction: ensure_runner, which sees the lock held, waits for that runner to
register instead of starting another. Should the command then fail (bad input),
the runner exits after FIRST_IDLE_EXIT seconds without a job.

Imports only the standard library, like cli/launch.py.
"""

import fcntl
import os
import sys

from ..store import trust
from ..store.libpath import RUNNER_LOG, data_dir_of

RUNNER_LOCK = "runner.lock"
AUTOSTART_LOCK = "autostart.lock"
FIRST_IDLE_EXIT = 10.0
DEFAULT_IDLE_EXIT = 600.0

held: list[int] = []  # this process's descriptors of runner.lock; forked job processes close them


def idle_exit() -> float:
    """``$SDJOBS_RUNNER_IDLE_EXIT`` in seconds; ValueError when it is not a number."""
    return float(os.environ.get("SDJOBS_RUNNER_IDLE_EXIT", str(DEFAULT_IDLE_EXIT)))


def python_argv(module: str, *args: str) -> list[str]:
    """The command line of a Python process of sdjobs's own: ``-P`` keeps the directory it is
    started from off ``sys.path``, so that a folder named ``sdjobs`` there is never imported
    (``PYTHONPATH`` and the installed packages still count)."""
    return [sys.executable, "-P", "-m", module, *args]


def background_argv(db_path: str, idle: float, *options: str) -> list[str]:
    """The command line of a runner started on demand (runner/background.py)."""
    return python_argv("sdjobs.runner.background", db_path, str(idle), *options)


def hold(data_dir: str) -> None:
    """Mark this process as a live runner for as long as it lives (a shared lock)."""
    fd = os.open(os.path.join(data_dir, RUNNER_LOCK), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    held.append(fd)


def keep_held(data_dir: str) -> None:
    """Hold the lock again if ``runner.lock`` (or its whole folder) was deleted: commands
    that look for a live runner must keep seeing this one."""
    path = os.path.join(data_dir, RUNNER_LOCK)
    try:
        st = os.stat(path)
        if any(os.path.samestat(st, os.fstat(fd)) for fd in held):
            return
    except FileNotFoundError:
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
    hold(data_dir)


def adopt(fd: int) -> None:
    """Keep the locked descriptor this runner inherited from the command that started it."""
    os.set_inheritable(fd, False)
    held.append(fd)


def release_inherited() -> None:
    """In a process forked from a runner: the lock stays with the runner alone."""
    while held:
        os.close(held.pop())


def runner_alive(data_dir: str) -> bool:
    """A runner of this library holds the lock on this host (starting, running or stopping)."""
    return lock_held(os.path.join(data_dir, RUNNER_LOCK))


def lock_held(path: str) -> bool:
    """Some process holds a flock on ``path`` (False when there is no such file)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also lets go of the lock taken, if it was
    return False


def prestart(db_path: str, serve: bool = False, expect: str | None = None) -> int | None:
    """Start a background runner for ``db_path`` unless one is alive or being started; its pid.
    ``serve``: one that forks its command server at once (runner/background.py's ``--serve``);
    ``expect``: the job type the command is about to submit (its ``--expect``).

    Does nothing for a library not created yet (the command creates it, then its runner) or
    when anything is in the way: the command's own ensure_runner remains the one that must work.
    """
    data_dir = data_dir_of(db_path)
    if not os.path.isdir(data_dir):
        return None
    try:
        trust.check_library(db_path, data_dir)
    except trust.UntrustedLibrary:
        return None  # the command itself says why
    try:
        idle = idle_exit()
        auto = os.open(os.path.join(data_dir, AUTOSTART_LOCK), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except (ValueError, OSError):
        return None
    try:
        fcntl.flock(auto, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another command is starting one
        lock = os.open(os.path.join(data_dir, RUNNER_LOCK), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a runner holds it
            fcntl.flock(lock, fcntl.LOCK_SH)  # what the runner will hold, from its first instruction
            return _spawn(db_path, data_dir, idle, lock, serve, expect)
        finally:
            os.close(lock)  # the runner keeps its own copy of the locked descriptor
    except OSError:
        return None
    finally:
        os.close(auto)


def _spawn(db_path: str, data_dir: str, idle: float, lock: int, serve: bool, expect: str | None) -> int:
    os.set_inheritable(lock, True)
    log = os.path.join(data_dir, RUNNER_LOG)
    argv = background_argv(db_path, idle, "--lock-fd", str(lock), "--first-idle-exit", str(FIRST_IDLE_EXIT),
                           *(["--serve", "1"] if serve else []), *(["--expect", expect] if expect else []))
    return os.posix_spawn(sys.executable, argv, os.environ, setsid=True, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ])
