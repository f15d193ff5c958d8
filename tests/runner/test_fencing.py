"""No job ever runs twice at once: job processes and their workers die with their runner,
and a process whose claim was taken over (frozen, then thawed) writes nothing and stops."""

import os
import signal

import pytest

from conftest import children, steps_done, submit, wait_for

from sdjobs.core.status import Status


@pytest.fixture(autouse=True)
def no_command_server(monkeypatch):
    """These tests SIGKILL a runner alone: it must leave no command server behind."""
    monkeypatch.setenv("SDJOBS_CLI_SERVER", "0")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2:].split()[0] != b"Z"


def test_a_sigkilled_runner_takes_its_job_processes_and_their_workers_with_it(store, start_runner):
    job = submit(store, "test-fan", {"n": 400, "delay": 0.1, "chunk": 1})
    runner = start_runner("--workers", "2")
    job_pid = wait_for(lambda: store.get(job).pid, what="the job process")
    workers = wait_for(lambda: len(children(job_pid)) >= 2 and children(job_pid), what="the pool workers")
    os.kill(runner.proc.pid, signal.SIGKILL)  # the runner alone, not its process group
    runner.proc.wait(10)
    try:
        wait_for(lambda: not any(alive(p) for p in [job_pid, *workers]), timeout=10,
                 what="the job process and its workers to die with their runner")
    finally:
        for pid in [job_pid, *workers]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_frozen_job_thawed_after_its_runner_died_and_a_new_runner_took_it_does_not_run_on(
        store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 40, "delay": 0.05, "marker": str(marker)})
    runner = start_runner("--workers", "1")
    wait_for(lambda: len(steps_done(marker)) >= 5, what="progress")
    old = store.get(job).pid
    os.kill(old, signal.SIGSTOP)
    try:
        os.kill(runner.proc.pid, signal.SIGKILL)
        runner.proc.wait(10)
        start_runner("--workers", "1")
        wait_for(lambda: (r := store.get(job)).status == "running" and r.pid not in (None, old),
                 what="the new runner to run the job")
    finally:
        if alive(old):
            os.kill(old, signal.SIGCONT)
    wait_for(lambda: not alive(old), timeout=5, what="the thawed process to stop")
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    done = steps_done(marker)
    assert sorted(set(done)) == list(range(40))
    assert len(done) - 40 <= 1, f"steps ran twice: {done}"


def test_a_thawed_process_whose_claim_was_taken_over_under_a_live_runner_writes_nothing_and_stops(
        store, cli, start_runner, tmp_path):
    """Fencing alone (the old runner stays alive, so its job process is not killed): the job
    is taken over while its process is frozen; thawed, it must stop before its next write."""
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 40, "delay": 0.05, "marker": str(marker)})
    first = start_runner("--workers", "1")
    wait_for(lambda: len(steps_done(marker)) >= 5, what="progress")
    rec = store.get(job)
    old = rec.pid
    os.kill(old, signal.SIGSTOP)
    try:
        # as if its runner had been declared dead: the job is interrupted and claimed again
        assert store.finish(job, Status.INTERRUPTED, runner_id=rec.runner_id)
        start_runner("--workers", "1")
        wait_for(lambda: (r := store.get(job)).status == "running" and r.pid not in (None, old),
                 what="the second runner to run the job")
    finally:
        os.kill(old, signal.SIGCONT)
    wait_for(lambda: not alive(old), timeout=5, what="the thawed process to stop")
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    done = steps_done(marker)
    assert sorted(set(done)) == list(range(40))
    assert len(done) - 40 <= 1, f"steps ran twice: {done}"
    rec = store.get(job)
    assert rec.status == "completed" and rec.attempts == 0
    assert first.proc.poll() is None, "the first runner should still be alive"
