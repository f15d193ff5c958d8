"""Shared fixtures: a fresh library per test, the real CLI in subprocesses, real runners."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pgtest import postgres_url  # noqa: F401  (the fixture: a fresh PostgreSQL database per test)

TESTS = Path(__file__).parent
ROOT = TESTS.parent


@pytest.fixture
def lib(tmp_path, monkeypatch):
    """A fresh library; the environment points every sdjobs process at it."""
    path = tmp_path / "lib" / "library.db"
    monkeypatch.setenv("SDJOBS_LIBRARY", str(path))
    monkeypatch.setenv("SDJOBS_RUNNER_IDLE_EXIT", "3")
    monkeypatch.setenv("SDJOBS_PLUGINS", "testjobs")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    yield path
    _stop_all(path)


def _stop_all(path: Path) -> None:
    if not path.exists():
        return
    from sdjobs.runner.daemon import stop_runners
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    from sdjobs.runner.prestart import runner_alive

    store = Store(Library(path))
    try:
        stop_runners(store, wait=20)
        deadline = time.monotonic() + 20
        while runner_alive(str(store.library.data_dir)) and time.monotonic() < deadline:
            stop_runners(store, wait=20)  # one a command started early may have registered since
            time.sleep(0.05)
    finally:
        store.close()


@pytest.fixture
def store(lib):
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    s = Store(Library(lib))
    yield s
    s.close()


class Cli:
    def __call__(self, *args: str, check: bool | None = None, timeout: float = 120, input: str | None = None,
                 env: dict | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "sdjobs", *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, input=input, env={**os.environ, **(env or {})},
                              errors="surrogateescape")
        if check and proc.returncode != 0:
            raise AssertionError(f"sdjobs {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def json(self, *args: str, **kw):
        proc = self(*args, "--json", check=True, **kw)
        return json.loads(proc.stdout)


@pytest.fixture
def cli(lib) -> Cli:
    return Cli()


class Runner:
    """A foreground runner in its own session (process group), as a service manager would start it."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "runner", *args], start_new_session=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.pgid = self.proc.pid

    def kill_group(self) -> None:
        """SIGKILL the runner and everything it started: a crash or power loss."""
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def terminate(self, timeout: float = 40) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


@pytest.fixture
def start_runner(lib):
    runners: list[Runner] = []

    def start(*args: str, wait: bool = True) -> Runner:
        r = Runner(*args)
        runners.append(r)
        if wait:  # registered, so that a job command does not start a second, background runner
            from sdjobs.store.api import Store
            from sdjobs.store.library import Library

            store = Store(Library(lib))
            try:
                wait_for(lambda: r.proc.poll() is not None or any(x.pid == r.proc.pid for x in store.runners()),
                         what="the runner to register")
            finally:
                store.close()
        return r

    yield start
    for r in runners:
        if r.proc.poll() is None:
            r.kill_group()


def wait_for(predicate, timeout: float = 30, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def submit(store, job_type, config, priority=0):
    """A job submitted straight to the store, as a command would (for the runner tests)."""
    return store.submit(job_type, 1, config, priority=priority, context={"argv": ["test"]})


def steps_done(marker):
    """The steps a test-steps job recorded in its marker file."""
    try:
        return [int(x) for x in open(marker).read().split() if x.isdigit()]
    except FileNotFoundError:
        return []


def children(pid: int) -> list[int]:
    """The pids of a process's children (all its threads')."""
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def alive(pid: int) -> bool:
    """The process is there and not a zombie (exited, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def holds(pid: int, name: str) -> bool:
    """Process ``pid`` has a file named ``name`` open (False once it has ended)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        return any(os.readlink(f"/proc/{pid}/fd/{fd}").endswith(f"/{name}") for fd in fds)
    except OSError:  # it ended meanwhile
        return False
