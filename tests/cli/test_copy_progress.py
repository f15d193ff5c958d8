"""copy's progress tells the truth early and after a resume: its totals, percent and ETA from its
first moments (a tree of 20,000 files, a folder of a few large files), and a rate that counts
this run's work only."""

from __future__ import annotations

import os
import time

from conftest import wait_for

MB = 1000 * 1000


def watch(store, job, until) -> list[tuple[float, object]]:
    """(time, record) of the job, sampled until ``until(rec)`` or its end."""
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rec = store.get(job)
        seen.append((time.monotonic(), rec))
        if until(rec) or rec.status not in ("queued", "running"):
            return seen
        time.sleep(0.02)
    raise AssertionError("the copy did not end")


def first_with_totals(seen, files: int, size: int):
    """The first sample whose progress has both totals, a percent and an ETA."""
    for at, rec in seen:
        p = rec.progress
        if p.total == files and p.bytes_total == size and p.fraction() is not None and p.eta is not None:
            return at, rec
    return None


def test_a_tree_of_20000_files_shows_its_totals_and_an_eta_early(cli, store, start_runner, tmp_path):
    src = tmp_path / "tree"
    for d in range(100):
        os.makedirs(src / f"d{d:02}")
        for f in range(200):
            (src / f"d{d:02}" / f"f{f:03}").write_bytes(b"x" * (d + 1))
    size = sum(200 * (d + 1) for d in range(100))
    start_runner("--workers", "2")
    job = int(cli("copy", src, tmp_path / "dst", "--detach", check=True).stdout)
    wait_for(lambda: store.get(job).status == "running", what="the copy to start")
    started = time.monotonic()
    seen = watch(store, job, lambda r: first_with_totals([(0, r)], 20000, size))
    found = first_with_totals(seen, 20000, size)
    assert found, [r.progress.to_dict() for _, r in seen[-3:]]
    at, rec = found
    print(f"totals, percent and ETA {at - started:.2f} s after the copy started, at {rec.progress.done} files")
    assert rec.status == "running" and (rec.progress.done or 0) < 10000, "shown only late in the copy"
    assert cli("jobs", "wait", job, timeout=120).returncode == 0


def test_a_few_large_files_show_their_total_while_the_first_is_copied(cli, store, start_runner, tmp_path):
    src = tmp_path / "large"
    src.mkdir()
    for i in range(3):
        (src / f"big{i}").write_bytes(os.urandom(2 * MB))
    start_runner("--workers", "2")
    job = int(cli("copy", src, tmp_path / "dst", "--bwlimit", "2M", "--detach", check=True).stdout)
    seen = watch(store, job, lambda r: first_with_totals([(0, r)], 3, 6 * MB))
    found = first_with_totals(seen, 3, 6 * MB)
    assert found, [r.progress.to_dict() for _, r in seen[-3:]]
    _, rec = found
    assert rec.status == "running" and (rec.progress.bytes_done or 0) < 3 * MB, rec.progress
    assert cli("jobs", "wait", job, timeout=120).returncode == 0


def test_rate_and_eta_after_a_resume_count_this_runs_work_only(cli, store, start_runner, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(24):
        (src / f"f{i:02}").write_bytes(os.urandom(MB // 4))
    start_runner("--workers", "2")
    job = int(cli("copy", src, tmp_path / "dst", "--bwlimit", "2M", "--detach", check=True).stdout)
    wait_for(lambda: (store.get(job).progress.bytes_done or 0) >= 3 * MB, what="half the copy")
    cli("jobs", "pause", job, check=True)
    wait_for(lambda: store.get(job).status == "paused", what="paused")
    cli("jobs", "resume", job, check=True)
    seen = watch(store, job, lambda r: False)
    rates = [rec.progress.rate for _, rec in seen if rec.status == "running" and rec.progress.rate
             and rec.progress.phase == "copy"]
    assert rates, "no rate shown after the resume"
    assert max(rates) < 3 * 2 * MB, f"a rate of {max(rates) / MB:.1f} MB/s under a 2 MB/s limit: {rates}"
    assert store.get(job).status == "completed"
