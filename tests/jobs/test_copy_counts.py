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


def _crash_twice(cli, job, rng: random.Random, between: tuple[int, int] = (500, 1500)) -> list[int]:
    """SIGKILL two attempts of ``job`` mid-copy, each after it has done ``between`` more of its
    work (by its progress, not by the clock: a loaded machine copies slower); the pids killed
    (fewer if the copy ended first)."""

    def attempt() -> tuple[str, int | None, int]:
        x = _show(cli, job)
        return x["status"], x["pid"], (x.get("progress") or {}).get("done") or 0

    killed: list[int] = []
    for _ in range(2):  # of max_attempts 3: the third finishes
        _, pid, start = wait_for(lambda: (a := attempt())[0] == "running" and a[1] not in (None, *killed) and a,
                                 timeout=30, what="a new attempt")  # (its pid is written once its process runs)
        until = start + rng.randrange(*between)
        status = wait_for(lambda until=until: _progressed(attempt(), until), timeout=60,
                          what="the attempt to copy some files")
        if status != "running":
            break
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
    return killed


def _ended(cli, job) -> dict:
    return wait_for(lambda: (x := _show(cli, job))["status"] in ("completed", "completed-with-errors", "failed")
                    and x, timeout=90, what="the copy to end")


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
    killed = _crash_twice(cli, job, rng)
    rec = _ended(cli, job)
    assert rec["status"] == "completed", rec
    assert len(killed) == 2, "the copy ended before its second crash: the test proves less than it says"
    assert _manifest(tmp_path / "dst") == want
    out = rec["output"]
    assert (out["files"], out["dirs"], out["bytes"], out.get("skipped", 0)) == (want_files, want_dirs, want_bytes, 0), \
        f"after {len(killed)} crash(es): {out}"
    if move:
        assert not src.exists() or not any(os.scandir(src)), "a moved file is left at its source"


def _linked_tree(root, rng: random.Random) -> dict[str, int]:
    """Directories of regular files, then symlinks (some dangling), FIFOs and second names of
    files (hard links), in that order of names; the counts a copy of it reports, as os.walk
    sees them: a FIFO and each further name of a file are files of no bytes, a symlink a link."""
    _tree(root, rng, 1500, 30)
    dirs = [Path(d) for d, _s, _n in os.walk(root)]
    files = [Path(d) / n for d, _s, names in os.walk(root) for n in names]
    for i in range(2500):
        d = rng.choice(dirs)
        target = os.path.relpath(rng.choice(files), d) if i % 10 else f"nowhere-{i}"
        os.symlink(target, d / f"l{i:05d}")
    for i in range(150):
        os.mkfifo(rng.choice(dirs) / f"p{i:04d}")
    for i, f in enumerate(rng.sample(files, 300)):
        os.link(f, rng.choice(dirs) / f"m{i:04d}")
    want = {"files": 0, "links": 0, "dirs": 0, "bytes": 0}
    seen: set[int] = set()
    for d, _subdirs, names in os.walk(root):
        want["dirs"] += 1
        for n in names:
            st = os.lstat(os.path.join(d, n))
            if os.path.islink(os.path.join(d, n)):
                want["links"] += 1
                continue
            want["files"] += 1
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                want["bytes"] += st.st_size
    return want


def _entries(root) -> dict[str, tuple]:
    """Every entry under ``root`` as this test reads it: a file's mode and content, a symlink's
    target, a FIFO's mode; and which names share an inode."""
    out: dict[str, tuple] = {}
    inodes: dict[int, list[str]] = {}
    for d, _subdirs, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                out[rel] = ("file", st.st_mode, Path(p).read_bytes())
                inodes.setdefault(st.st_ino, []).append(rel)
            else:
                out[rel] = ("other", st.st_mode)
    out["(names of one inode)"] = tuple(sorted(tuple(sorted(names)) for names in inodes.values() if len(names) > 1))
    return out


def test_a_move_counts_links_fifos_and_hard_links_once_after_crashes(lib, cli, tmp_path, monkeypatch, request):
    """--move of a tree of symlinks, FIFOs and hard links beside its files, its job process killed
    twice: what the job thread itself moves (those, and files found copied in place) is counted
    in a checkpoint before its source is removed, so no crash loses it from the summary; the
    destination is the source's tree, links, FIFOs and shared inodes included (a first name
    removed before the checkpoint that maps its inode to its copy made the crash's resume copy
    the second name as a file of its own), and the source is emptied."""
    monkeypatch.setenv("SDJOBS_COPY_TEST_DELAY", "0.2")
    monkeypatch.setenv("SDJOBS_RUNNER_IDLE_EXIT", "60")
    rng = random.Random(13)
    src = _source(tmp_path, request, True)
    want = _linked_tree(src, rng)
    entries = _entries(src)
    job = _detached(cli, src, tmp_path / "dst", True)
    killed = _crash_twice(cli, job, rng, (150, 500))  # (of about 4,500 entries, most moved by the job's thread)
    rec = _ended(cli, job)
    assert rec["status"] == "completed", cli("jobs", "logs", job).stdout[-3000:]
    assert len(killed) == 2, "the move ended before its second crash: the test proves less than it says"
    assert _entries(tmp_path / "dst") == entries
    out = rec["output"]
    assert {k: out.get(k, 0) for k in (*want, "skipped")} == {**want, "skipped": 0}, \
        f"after {len(killed)} crash(es): {out}"
    assert not src.exists() or not any(os.scandir(src)), "a moved entry is left at its source"


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
