"""A copy's summary counts what the job did over all its attempts, judged against the tree itself
(counted here with os.walk, not by sdjobs): pauses while pool batches are out, and resumes that
walk the tree again, neither lose files from the count nor count a directory twice, and a file
the job copied itself before a pause is never "skipped"."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import tempfile
from pathlib import Path

import pytest
from conftest import wait_for


def _tree(root, rng: random.Random, files: int, dirs: int) -> tuple[int, int, int]:
    """files spread over dirs (nested a little); returns (files, dirs, bytes) as os.walk sees them."""
    paths = [root]
    root.mkdir()
    for i in range(dirs):
        d = rng.choice(paths) / f"d{i:03d}"
        d.mkdir()
        paths.append(d)
    for i in range(files):
        (rng.choice(paths) / f"f{i:05d}").write_bytes(rng.randbytes(rng.randrange(0, 600)))
    n_files = n_dirs = n_bytes = 0
    for d, _subdirs, names in os.walk(root):
        n_dirs += 1
        n_files += len(names)
        n_bytes += sum(os.lstat(os.path.join(d, n)).st_size for n in names)
    return n_files, n_dirs, n_bytes


def _show(cli, job):
    return json.loads(cli("jobs", "show", job, "--json", check=True).stdout)


def _source(tmp_path, request, move: bool) -> Path:
    """Where the tree to copy goes: for a move, on another filesystem (on one, a move is a
    single rename), /dev/shm; the test is skipped where that is the same filesystem."""
    if not move:
        return tmp_path / "src"
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem at /dev/shm")
    shm = Path(tempfile.mkdtemp(prefix="sdjobs-counts-", dir="/dev/shm"))
    request.addfinalizer(lambda: shutil.rmtree(shm, ignore_errors=True))
    return shm / "src"


def _progressed(attempt: tuple[str, int | None, int], until: int) -> str | None:
    """An attempt's status once it has stopped running or its progress has reached ``until``."""
    status, _pid, done = attempt
    return status if status != "running" or done >= until else None


def _detached(cli, src, dst, move: bool) -> int:
    """``sdjobs copy --detach`` (``--move``): its job's id."""
    r = cli("copy", "--detach", src, dst, *(["--move"] if move else []))
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[0])


@pytest.mark.parametrize("move", [False, True], ids=["copy", "move"])
def test_counts_after_pauses_with_batches_out_equal_the_tree(lib, cli, tmp_path, monkeypatch, request, move):
    monkeypatch.setenv("SDJOBS_COPY_TEST_DELAY", "0.4")  # each pool batch takes a while: pauses find some out
    monkeypatch.setenv("SDJOBS_RUNNER_IDLE_EXIT", "60")
    src = _source(tmp_path, request, move)
    want_files, want_dirs, want_bytes = _tree(src, random.Random(7), 6000, 40)
    job = _detached(cli, src, tmp_path / "dst", move)
    paused = 0
    for _ in range(3):
        wait_for(lambda: _show(cli, job)["status"] in ("running", "completed"), timeout=30, what="the copy to run")
        if _show(cli, job)["status"] == "completed":
            break
        cli("jobs", "pause", job, check=True)
        status = wait_for(lambda: (s := _show(cli, job)["status"]) in ("paused", "completed") and s, timeout=30,
                          what="the pause")
        if status == "completed":
            break
        paused += 1
        cli("jobs", "resume", job, check=True)
    rec = wait_for(lambda: (x := _show(cli, job))["status"] in ("completed", "completed-with-errors", "failed")
                   and x, timeout=60, what="the copy to end")
    assert rec["status"] == "completed", rec
    assert paused >= 1, "the copy ended before it could be paused: the test proves nothing"
    out = rec["output"]
    assert (out["files"], out["dirs"], out["bytes"], out.get("skipped", 0)) == (want_files, want_dirs, want_bytes, 0), \
        f"after {paused} pause(s): {out}"


def _manifest(root) -> dict[str, tuple[int, bytes]]:
    """Every file under ``root``: its mode bits and content (read here, not by sdjobs)."""
    out = {}
    for d, _subdirs, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = (os.lstat(p).st_mode, Path(p).read_bytes())
    return out


@pytest.mark.parametrize("move", [False, True], ids=["copy", "move"])
def test_counts_after_crashes_equal_the_tree(lib, cli, tmp_path, monkeypatch, request, move):
    """Two SIGKILLs of the job process mid-copy, each attempt resuming from the last checkpoint:
    files copied after that checkpoint are found in place by the next attempt, and counted once,
    as copied, never as skipped; the result is the tree, byte for byte."""
    monkeypatch.setenv("SDJOBS_COPY_TEST_DELAY", "0.4")  # each pool batch takes a while: the crash finds some out
    monkeypatch.setenv("SDJOBS_RUNNER_IDLE_EXIT", "60")
    rng = random.Random(11)
    src = _source(tmp_path, request, move)
    want_files, want_dirs, want_bytes = _tree(src, rng, 6000, 40)
    want = _manifest(src)
    job = _detached(cli, src, tmp_path / "dst", move)

    def attempt() -> tuple[str, int | None, int]:
        x = _show(cli, job)
        return x["status"], x["pid"], (x.get("progress") or {}).get("done") or 0

    killed: list[int] = []
    for _ in range(2):  # of max_attempts 3: the third finishes
        # a new attempt, then some of its files copied (by its progress, not by the clock: a
        # loaded machine copies slower), past a checkpoint or not; then its crash
        _, pid, start = wait_for(lambda: (a := attempt())[0] == "running" and a[1] not in (None, *killed) and a,
                                 timeout=30, what="a new attempt")  # (its pid is written once its process runs)
        until = start + rng.randrange(500, 1500)
        status = wait_for(lambda until=until: _progressed(attempt(), until), timeout=60,
                          what="the attempt to copy some files")
        if status != "running":
            break
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    rec = wait_for(lambda: (x := _show(cli, job))["status"] in ("completed", "completed-with-errors", "failed")
                   and x, timeout=90, what="the copy to end")
    assert rec["status"] == "completed", rec
    assert len(killed) == 2, "the copy ended before its second crash: the test proves less than it says"
    assert _manifest(tmp_path / "dst") == want
    out = rec["output"]
    assert (out["files"], out["dirs"], out["bytes"], out.get("skipped", 0)) == (want_files, want_dirs, want_bytes, 0), \
        f"after {len(killed)} crash(es): {out}"
    if move:
        assert not src.exists() or not any(os.scandir(src)), "a moved file is left at its source"


def test_counts_after_a_full_destination_and_a_retry_equal_the_tree(lib, cli, tmp_path):
    """The files a full destination stopped (those that failed, and those of their batch not tried)
    were counted when handed out and are uncounted then; the retry, which walks past them as an
    earlier run's, copies them and counts them again: the summary is the tree's, once."""
    import subprocess

    from test_copy import small_tmpfs

    mnt = small_tmpfs(tmp_path, "1m")
    try:
        want_files, want_dirs, want_bytes = _tree(tmp_path / "src", random.Random(5), 1500, 6)  # about 0.45 MB
        for i in range(4):  # and what does not fit
            (tmp_path / "src" / f"big{i}").write_bytes(os.urandom(200_000))
            want_files, want_bytes = want_files + 1, want_bytes + 200_000
        want = _manifest(tmp_path / "src")
        r = cli("copy", tmp_path / "src", mnt / "dst", "--json")
        assert r.returncode == 1 and "destination is full" in r.stderr, r.stderr
        job = 1  # (the library's first)
        assert subprocess.run(["mount", "-o", "remount,size=8m", str(mnt)], capture_output=True).returncode == 0
        cli("jobs", "retry", job, check=True)
        rec = wait_for(lambda: (x := _show(cli, job))["status"] in ("completed", "completed-with-errors", "failed")
                       and x, timeout=60, what="the retried copy to end")
        assert rec["status"] == "completed", rec
        assert _manifest(mnt / "dst") == want
        out = rec["output"]
        assert (out["files"], out["dirs"], out["bytes"], out.get("skipped", 0)) == (want_files, want_dirs, want_bytes, 0), out
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
