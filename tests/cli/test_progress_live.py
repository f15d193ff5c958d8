"""Progress that never lies: what a job reports is seen while it blocks (a trailing write)."""

from __future__ import annotations

import time

import pytest

from conftest import wait_for


@pytest.fixture
def eventjobs(lib, monkeypatch):
    monkeypatch.setenv("SDJOBS_PLUGINS", "testjobs,eventjobs")


def test_a_report_just_after_a_write_is_seen_while_the_job_then_blocks(eventjobs, cli, store, start_runner,
                                                                        tmp_path):
    marker = tmp_path / "blocking"
    start_runner("--workers", "1")
    job = int(cli("run", "test-report-then-block", "--set", "sleep=3", "--set", f"marker={marker}", "--detach",
                  check=True).stdout)
    blocked_at = float(wait_for(lambda: marker.exists() and marker.read_text(), what="the job to block"))

    def seen():
        rec = store.get(job)
        kinds = {e.kind for e in store.events(job)}
        if rec.progress.percent == 45.2 and {"log", "warning", "error"} <= kinds:
            return time.time(), rec.status
        return None

    at, status = wait_for(seen, timeout=30, interval=0.02, what="45.2% and the log lines")
    assert status == "running" and at - blocked_at < 3, "seen only once the job stopped blocking"
    print(f"seen {at - blocked_at:.3f} s after the job started to block")
    listed = cli("jobs", "ls", check=True).stdout
    assert store.get(job).status == "running" and " 45% " in listed, listed
    shown = cli.json("jobs", "show", str(job))
    assert shown["progress"]["percent"] == 45.2 and shown["warnings"] == 1 and shown["errors"] == 1
    assert cli("jobs", "wait", job, timeout=60).returncode == 1  # (its planted error)


def test_a_job_reporting_inside_its_own_transaction_is_not_held_up_by_the_trailing_write(
        eventjobs, cli, store, start_runner):
    start_runner("--workers", "1")
    job = int(cli("run", "test-report-in-transaction", "--detach", check=True).stdout)
    assert cli("jobs", "wait", job, timeout=120).returncode == 0
    rec = store.get(job)
    assert rec.output["seconds"] < 10, rec.output  # not a busy timeout (60 s) waiting on itself
    assert rec.progress.done == 20
