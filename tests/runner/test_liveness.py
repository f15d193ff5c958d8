"""A runner is alive while its process is: no client's clock and no runner's word decides it.
SIGHUP stops a runner as SIGTERM does; `runner stop` returns once the runners have exited."""

import os
import signal
import subprocess
import sys

from conftest import steps_done, submit, wait_for


def skewed(offset: str, *argv: str) -> list[str]:
    return ["faketime", "-f", offset, sys.executable, "-m", "sdjobs", *argv]


def test_a_client_whose_clock_is_ahead_does_not_declare_a_live_runner_dead(store, cli, start_runner, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("SDJOBS_CLI_SERVER", "0")  # the command runs here, under faketime
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 120, "delay": 0.05, "marker": str(marker)})
    runner = start_runner("--workers", "1")
    wait_for(lambda: len(steps_done(marker)) >= 3, what="progress")
    for argv in (("jobs", "pause", "999"), ("jobs", "ls"), ("jobs", "show", str(job))):
        proc = subprocess.run(skewed("+2m", *argv), capture_output=True, text=True, timeout=60)
        assert "Traceback" not in proc.stderr, proc.stderr
        rec = store.get(job)  # (on a loaded machine the job may have finished meanwhile: never interrupted)
        assert rec.status in ("running", "completed"), f"`{' '.join(argv)}` 2 minutes ahead: {rec.status}"
        assert [r.pid for r in store.runners(live_only=False)] == [runner.proc.pid]
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    assert steps_done(marker) == list(range(120))
    assert store.get(job).attempts == 0


def test_runner_stop_returns_once_the_runner_has_exited_even_if_its_clock_lags(store, cli, tmp_path, monkeypatch):
    """The runner's heartbeats look 2 minutes old: it is alive all the same, is stopped, and
    the command returns only when its process is gone, its job checkpointed."""
    monkeypatch.setenv("SDJOBS_CLI_SERVER", "0")
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 10, "delay": 1.5, "marker": str(marker)})
    runner = subprocess.Popen(skewed("-2m", "runner", "--workers", "1"), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(steps_done(marker)) >= 1, what="progress")
        out = cli("runner", "stop", timeout=60)
        assert runner.poll() is not None, "runner stop returned while the runner was still running"
        assert out.returncode == 0 and out.stdout.strip() == "stopped 1 runner(s)", out
        assert runner.returncode == 0
        rec = store.get(job)
        assert rec.status in ("interrupted", "queued") and rec.state_version is not None, rec
        assert rec.pid is None
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait(10)


def test_runner_stop_reports_a_runner_still_alive_after_its_wait(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    submit(store, "test-steps", {"steps": 10, "delay": 3, "marker": str(marker)})
    runner = start_runner("--workers", "1")
    # in its first 3-second step (its phase is written just before the step's interrupt check):
    # asked earlier, the job would see the stop at that check and the runner exit at once
    wait_for(lambda: store.get(1).progress.phase == "counting", what="running")
    out = cli("runner", "stop", "--wait", "0.2", timeout=60)
    assert out.returncode == 1 and "still running" in out.stderr and str(runner.proc.pid) in out.stderr, out
    assert runner.proc.wait(30) == 0


def test_sighup_stops_a_foreground_runner_with_a_checkpoint(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 40, "delay": 0.05, "marker": str(marker)})
    runner = start_runner("--workers", "1")
    wait_for(lambda: len(steps_done(marker)) >= 5, what="progress")
    os.kill(runner.proc.pid, signal.SIGHUP)
    assert runner.proc.wait(30) == 0, "SIGHUP killed the runner"
    rec = store.get(job)
    assert rec.status in ("interrupted", "queued") and rec.state_version is not None and rec.pid is None, rec
    start_runner("--workers", "1")
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    done = steps_done(marker)
    assert sorted(set(done)) == list(range(40)) and len(done) - 40 <= 1, done
    assert store.get(job).attempts == 0
