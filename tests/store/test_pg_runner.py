"""A runner on a PostgreSQL library, for real: a job paused, resumed, and resumed again after
its runner was SIGKILLed, from its checkpoints (a marker file says which steps ran), and
`jobs wait` woken by the change; then the dashboard shows it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).parent.parent
ROOT = TESTS.parent


@pytest.fixture
def pg_env(postgres_url, tmp_path, monkeypatch):
    env = {"SDJOBS_LIBRARY": postgres_url, "SDJOBS_PLUGINS": "testjobs", "XDG_DATA_HOME": str(tmp_path / "xdg"),
           "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)]), "NO_COLOR": "1", "SDJOBS_RUNNER_IDLE_EXIT": "30"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return env


def sdjobs(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sdjobs", *args], capture_output=True, text=True, timeout=timeout)


def start_runner() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sdjobs", "runner", "--workers", "2"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def until(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_pause_resume_and_a_killed_runner_on_postgresql(pg_env, postgres_url, tmp_path):
    import testjobs  # noqa: F401  (registers test-steps)

    from sdjobs.core import registry
    from sdjobs.store.open import open_store

    marker = tmp_path / "steps"
    store = open_store(postgres_url)
    cls = registry.get("test-steps")
    job_id = store.submit("test-steps", cls.version, {"steps": 120, "delay": 0.02, "marker": str(marker)},
                          context={"argv": ["sdjobs", "run", "test-steps"]})
    runners = [start_runner()]
    try:
        done = lambda: (store.get(job_id).progress.done or 0)  # noqa: E731
        until(lambda: done() >= 10, "progress")
        assert sdjobs("jobs", "pause", str(job_id)).returncode == 0
        until(lambda: store.job_status(job_id) == "paused", "paused")
        held = done()
        time.sleep(0.3)
        assert done() == held  # a paused job makes no progress
        assert sdjobs("jobs", "resume", str(job_id)).returncode == 0
        until(lambda: done() >= held + 20, "progress after resume")
        os.killpg(runners[0].pid, signal.SIGKILL)  # the runner and its job process: a power cut
        runners[0].wait(10)
        runners.append(start_runner())  # recovers the job (its runner's process is gone) and resumes it
        waited = sdjobs("jobs", "wait", str(job_id), timeout=120)
        assert waited.returncode == 0, waited.stderr
        rec = store.get(job_id)
        assert rec.status == "completed" and rec.attempts == 1, (rec.status, rec.attempts)
        steps = [int(x) for x in marker.read_text().split()]
        assert sorted(set(steps)) == list(range(120))
        assert len(steps) - len(set(steps)) <= 1  # only a step in flight at the kill may run again
        assert [e.kind for e in store.events(job_id, kinds=["interrupted"])] == ["interrupted"]
        _dashboard_shows(store, job_id)
    finally:
        for r in runners:
            if r.poll() is None:
                r.send_signal(signal.SIGTERM)
                try:
                    r.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(r.pid, signal.SIGKILL)
        store.close()


def _dashboard_shows(store, job_id: int) -> None:
    from sdjobs.tui.app import DashApp

    async def scenario():
        app = DashApp(store)
        async with app.run_test(size=(120, 30)) as pilot:
            deadline = time.monotonic() + 20
            while not (app.table.view(job_id) and app.table.cell_text(job_id, "status") == "completed"):
                assert time.monotonic() < deadline, "the dashboard did not show the job"
                await pilot.pause(0.05)

    asyncio.run(scenario())
