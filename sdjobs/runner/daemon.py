"""The background runner: started on demand, found, stopped."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Callable

from ..core.errors import SdjobsError
from ..store.api import Store
from ..core.hostid import this_host
from ..store.leases import pid_alive
from ..store.records import RunnerRecord
from . import prestart


def live_runners(store: Store) -> list[RunnerRecord]:
    return store.runners(live_only=True)


def runners_for(store: Store, host: str | None = None) -> list[RunnerRecord]:
    """The live runners that take a job of ``host`` (a host id, or ``any``; None: this host's)."""
    runners = live_runners(store)
    if host == "any":
        return runners
    host = host or this_host()
    names = store.host_names()  # a job sent --on a name before its host was seen carries the name
    return [r for r in runners if host in (r.host, names.get(r.host))]


def ensure_runner(store: Store, workers: int | None = None, host: str | None = None) -> RunnerRecord | None:
    """Start a background runner on this host unless one that takes a job of ``host`` (None:
    this host's) is alive; returns the new one, if any. For a job of another host none is
    started here: only that host's runner can take it."""
    if host not in (None, "any", this_host()):
        return None
    if runners_for(store, host):
        return None
    lib = store.library
    lib.ensure_dirs()
    lock = os.open(lib.data_dir / prestart.AUTOSTART_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _wait_for_starting_runner(store, host):
            return None
        try:
            idle = prestart.idle_exit()
        except ValueError:
            raw = os.environ.get("SDJOBS_RUNNER_IDLE_EXIT")
            raise SdjobsError(f"SDJOBS_RUNNER_IDLE_EXIT must be a number of seconds, not {raw!r}") from None
        cmd = prestart.background_argv(str(lib.db_path), idle, *(["--workers", str(workers)] if workers else []))
        fd = os.open(lib.runner_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                                    start_new_session=True, close_fds=True)
        finally:
            os.close(fd)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for r in live_runners(store):
                if r.pid == proc.pid:
                    return r
            if proc.poll() is not None:
                raise SdjobsError(f"the background runner exited at once; see {lib.runner_log}")
            time.sleep(0.02)
        raise SdjobsError(f"the background runner did not start within 30 s; see {lib.runner_log}")
    finally:
        os.close(lock)


def _wait_for_starting_runner(store: Store, host: str | None = None, patience: float = 10.0) -> bool:
    """Whether a runner is alive, waiting up to ``patience`` for one that holds runner.lock
    but has not registered yet (started early by a command, or stopping)."""
    data_dir = str(store.library.data_dir)
    deadline = time.monotonic() + patience
    while prestart.runner_alive(data_dir) and time.monotonic() < deadline:
        if runners_for(store, host):
            return True
        time.sleep(0.01)
    return bool(runners_for(store, host))


def stop_runners(store: Store, wait: float = 40.0,
                 waiting: Callable[[list[int]], None] | None = None) -> tuple[list[int], list[int]]:
    """Ask every live runner to stop (its jobs checkpoint first) and wait until each has
    exited, up to ``wait`` seconds: (pids of those that exited, pids of those still alive).

    A runner on this host has exited when its process has (pid and start time), not when its
    record says so; one on another host, when its record is gone or its lease ran out.
    ``waiting`` is told the pids still alive once, after a second, to say why this takes long."""
    runners = live_runners(store)
    here = this_host()
    for r in runners:
        store.request_runner_stop(r.id)  # runners on other hosts see this flag
        if r.host == here:
            try:
                os.kill(r.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
    start = time.monotonic()
    alive = list(runners)
    while alive:
        listed = {x.id for x in live_runners(store)}
        alive = [r for r in alive if (pid_alive(r.pid, r.pid_start) if r.host == here else r.id in listed)]
        if not alive or time.monotonic() >= start + wait:
            break
        if waiting is not None and time.monotonic() >= start + 1.0:
            waiting([r.pid for r in alive])
            waiting = None
        time.sleep(0.05)
    return [r.pid for r in runners if r not in alive], [r.pid for r in alive]
