"""Attempts count crashes only; retry starts a new run whose counts start at zero, with the
earlier runs' issues kept as their history; cancelling an idle job keeps what it had done."""

import os
import re
import signal

from conftest import steps_done, submit, wait_for

from sdjobs.core import codec


def test_pauses_resumes_and_a_runner_stop_are_no_attempts_and_one_crash_is_one(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    # 12 s of steps: under load the commands between its starts took the 4 s it had, and the job
    # ended before the crash
    job = submit(store, "test-steps", {"steps": 300, "delay": 0.04, "marker": str(marker)})
    runner = start_runner("--workers", "1")
    for _cycle in range(3):
        at = len(steps_done(marker))
        wait_for(lambda at=at: len(steps_done(marker)) >= at + 3, what="progress")
        cli("jobs", "pause", job, check=True)
        wait_for(lambda: store.get(job).status == "paused", what="paused")
        cli("jobs", "resume", job, check=True)
    wait_for(lambda: store.get(job).status == "running", what="running again")
    assert runner.terminate() == 0  # a shutdown: checkpoint and stop, no attempt either
    assert store.get(job).status == "interrupted"
    start_runner("--workers", "1")
    wait_for(lambda: store.get(job).status == "running" and store.get(job).pid, what="running again")
    shown = cli.json("jobs", "show", str(job))
    assert shown["attempts"] == 0 and shown["attempt"] == 1
    assert re.search(r"^attempt +1 of 3 *$", cli("jobs", "show", job, check=True).stdout, re.M)
    os.kill(store.get(job).pid, signal.SIGKILL)  # a crash
    wait_for(lambda: store.get(job).attempts == 1, what="the crash to be counted")
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    shown = cli.json("jobs", "show", str(job))
    assert shown["status"] == "completed" and shown["attempts"] == 1 and shown["attempt"] == 2
    text = cli("jobs", "show", job, check=True).stdout
    assert "2 of 3" in text and "4 of 3" not in text
    listed = cli.json("jobs", "ls")[0]
    # one crash, in six runs: the first, three resumes, the next runner's, the one after the crash
    assert (listed["attempts"], listed["claim"]) == (1, 6), listed
    assert sorted(set(steps_done(marker))) == list(range(300))


def test_a_retried_job_whose_cause_was_fixed_exits_0_and_keeps_the_earlier_errors_as_history(
        store, cli, start_runner):
    job = submit(store, "test-steps", {"steps": 6, "delay": 0, "warn_every": 2})
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=60).returncode == 1
    assert store.get(job).errors == 3
    store._sql("UPDATE job SET config=?, state=NULL, state_version=NULL WHERE id=?",  # the cause is fixed
              (codec.pack({"steps": 6, "delay": 0}), job))
    cli("jobs", "retry", job, check=True)
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    shown = cli.json("jobs", "show", str(job))
    assert shown["status"] == "completed" and shown["errors"] == 0 and shown["attempts"] == 0
    history = [(i["path"], i["run"]) for i in shown["issues"] if i["kind"] == "error"]
    assert history == [("/fake/0", 0), ("/fake/2", 0), ("/fake/4", 0)], "the first run's errors are its history"
    assert "planted error" in cli("jobs", "logs", job, check=True).stdout


def test_cancelling_a_paused_job_keeps_its_counts(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 300, "delay": 0.01, "warn_every": 3, "marker": str(marker)})
    start_runner()
    wait_for(lambda: store.get(job).errors >= 3, what="some errors")
    cli("jobs", "pause", job, check=True)
    before = wait_for(lambda: (r := store.get(job)).status == "paused" and r, what="paused")
    assert before.errors >= 3 and before.items_done == 0 or before.errors >= 3
    cli("jobs", "cancel", job, check=True)
    rec = store.get(job)
    assert rec.status == "cancelled"
    assert (rec.bytes_done, rec.items_done, rec.warnings, rec.errors) == \
        (before.bytes_done, before.items_done, before.warnings, before.errors)
    assert "cancelled" in open(marker).read()
