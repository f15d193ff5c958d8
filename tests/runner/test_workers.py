"""A process working for a job dies (a pool worker or the indexer's writer, as the OOM killer
kills one, or with its runner): the job neither hangs nor fails, it resumes as after a crash."""

import os
import signal

import pytest

from conftest import wait_for
from test_fencing import alive, children


@pytest.fixture(autouse=True)
def no_command_server(monkeypatch):
    """These tests SIGKILL a runner alone: it must leave no command server behind."""
    monkeypatch.setenv("SDJOBS_CLI_SERVER", "0")


def submit(store, job_type, config, priority=0):
    return store.submit(job_type, 1, config, priority=priority, context={"argv": ["test"]})


def test_a_sigkilled_pool_worker_is_a_crash_of_its_job_which_resumes(store, cli, start_runner):
    job = submit(store, "test-fan", {"n": 200, "delay": 0.02, "chunk": 2})
    start_runner("--workers", "2")
    job_pid = wait_for(lambda: store.get(job).pid, what="the job process")
    workers = wait_for(lambda: len(children(job_pid)) >= 2 and children(job_pid), what="the pool workers")
    os.kill(workers[0], signal.SIGKILL)
    assert cli("jobs", "wait", job, "--timeout", "60", timeout=90).returncode == 0, "the job hung or failed"
    rec = store.get(job)
    # a crash (1), unless the worker died between chunks and the other one did the rest (0)
    assert rec.status == "completed" and rec.attempts in (0, 1), rec
    assert rec.output["sum"] == sum(i * i for i in range(200))
    if rec.attempts:
        assert any("a pool worker" in e.message for e in store.events(job)), store.events(job)
        from sdjobs.store import events

        assert [e.fields["reason"] for e in events.read(store, job, kinds=["interrupted"])] == ["worker-lost"]
    assert not alive(job_pid)


def test_pause_is_honoured_after_a_pool_worker_died(store, cli, start_runner):
    job = submit(store, "test-fan", {"n": 400, "delay": 0.05, "chunk": 1})
    start_runner("--workers", "2")
    job_pid = wait_for(lambda: store.get(job).pid, what="the job process")
    workers = wait_for(lambda: len(children(job_pid)) >= 2 and children(job_pid), what="the pool workers")
    os.kill(workers[0], signal.SIGKILL)
    cli("jobs", "pause", job, check=True)
    wait_for(lambda: store.get(job).status == "paused", timeout=20, what="the job to pause")
    cli("jobs", "resume", job, check=True)
    assert cli("jobs", "wait", job, "--timeout", "60", timeout=90).returncode == 0


def test_an_index_job_whose_runner_dies_at_once_resumes_under_the_next_runner(store, cli, start_runner, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("SDJOBS_INDEX_BATCH", "8")
    root = tmp_path / "tree"
    for i in range(120):
        d = root / f"d{i % 6}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i:03d}").write_bytes(os.urandom(i * 13 % 700 + 1))
    runner = start_runner("--workers", "2")
    job = int(cli("index", str(root), "--detach", check=True).stdout.strip())
    job_pid = wait_for(lambda: store.get(job).pid, interval=0.01, what="the job process")
    os.kill(runner.proc.pid, signal.SIGKILL)  # the runner alone: its job and the writer must follow it
    runner.proc.wait(10)
    wait_for(lambda: not alive(job_pid), timeout=10, what="the job process to die with its runner")
    start_runner("--workers", "2")
    assert cli("jobs", "wait", job, "--timeout", "60", timeout=90).returncode == 0
    rec = cli.json("jobs", "show", job)
    assert rec["status"] == "completed" and rec["attempts"] == 1 and rec["attempt"] == 2, rec
    assert rec["output"]["entries"] == 120 + 6, rec["output"]  # the files and their directories
