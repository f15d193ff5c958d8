"""Per-job resource limits, changed while the job runs: --max-workers caps the fan-out
(how many workers run its chunks at once) and --bwlimit throttles copy."""

from __future__ import annotations

import os
import time

import pytest
from composejobs import max_overlap
from conftest import wait_for


@pytest.fixture(autouse=True)
def compose_jobs(lib, monkeypatch):
    monkeypatch.setenv("SDJOBS_PLUGINS", "testjobs,composejobs")


def spans(store, job) -> list:
    return store.get(job).output["spans"]


def test_max_workers_caps_how_many_workers_run_a_jobs_chunks(store, cli, start_runner):
    capped = store.submit("test-overlap", 1, {"n": 12, "seconds": 0.1}, settings={"max_workers": 1})
    # higher priority, so that the shared tokens go to it first and it can use both workers
    free = store.submit("test-overlap", 1, {"n": 12, "seconds": 0.1}, priority=1)
    start_runner("--workers", "2", "--exit-when-idle")
    assert cli("jobs", "wait", capped, free, timeout=60).returncode == 0
    assert max_overlap(spans(store, capped)) == 1
    assert max_overlap(spans(store, free)) == 2


def test_max_workers_changes_while_the_job_runs(store, cli, start_runner):
    # 120 chunks: under load the `jobs set` command took as long as 50 had, and none ran after the change
    job = store.submit("test-overlap", 1, {"n": 120, "seconds": 0.1})
    start_runner("--workers", "2")
    wait_for(lambda: (store.get(job).progress.done or 0) >= 6, what="progress")
    cli("jobs", "set", job, "--max-workers", "1", check=True)
    changed = time.time()
    assert store.get(job).status == "running"
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    before = [s for s in spans(store, job) if s[1] <= changed]
    assert max_overlap(before) == 2
    assert max_overlap(spans(store, job), after=changed + 1.5) == 1  # settings are re-read every second
    assert store.get(job).settings == {"max_workers": 1}


def test_bwlimit_throttles_a_copy_and_changes_while_it_runs(store, cli, start_runner, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(6 * 1024 * 1024))
    start_runner("--workers", "2")
    wait_for(lambda: store.runners(), what="the runner")  # so that the copy does not start another
    job = int(cli("copy", str(src), str(tmp_path / "out.bin"), "--bwlimit", "1M", "--detach", check=True).stdout)
    wait_for(lambda: (store.get(job).progress.bytes_done or 0) >= 1 << 20, what="copy progress")
    rec = store.get(job)
    assert rec.status == "running" and rec.progress.bytes_done <= 2.5 * (1 << 20)  # 1 MiB/s: seconds to go
    cli("jobs", "set", job, "--bwlimit", "1G", check=True)
    changed = time.time()
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    # At 1 MiB/s, 3 MiB and more were left when the limit was raised; the copy re-reads it every second.
    assert store.get(job).finished_at - changed < 2.6
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()
    assert store.get(job).settings == {"bwlimit": 1 << 30}
