"""copy under stress: trees and races the happy-path tests never build, judged by content manifests.

Each test here reproduces a defect of issue 13/14 and failed before its fix.
"""

from __future__ import annotations

import hashlib
import os
import random
import stat
import subprocess

import pytest
from conftest import wait_for


def manifest(root) -> dict:
    """Path -> (kind, mode, mtime, sha256 or link target, hard-link group): an oracle that does not trust sdjobs."""
    out, names = {}, {}
    broot = os.fsencode(root)
    for dirpath, dirs, files in os.walk(broot):
        for name in dirs + files:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                names.setdefault(st.st_ino, []).append(os.path.relpath(os.path.join(dirpath, name), broot))
    for dirpath, dirs, files in os.walk(broot):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, broot)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    body = hashlib.sha256(f.read()).hexdigest()
                group = tuple(sorted(names[st.st_ino])) if st.st_nlink > 1 else None  # (names, not inodes)
            elif stat.S_ISLNK(st.st_mode):
                body, group = os.readlink(p), None
            else:
                body, group = None, None
            mtime = None if stat.S_ISLNK(st.st_mode) else st.st_mtime_ns
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), mtime, body, group)
    return out


def links_tree(src, *, seed: int, big: int = 2, big_size: int = 12 * 1024 * 1024, pairs: int = 150):
    """The issue's tree, smaller: large random files beside hard-linked pairs of small random files."""
    rnd = random.Random(seed)
    src.mkdir()
    for i in range(big):
        (src / f"big{i}.bin").write_bytes(rnd.randbytes(big_size))
    (src / "links").mkdir()
    for i in range(pairs):
        f = src / "links" / f"f{i}.dat"
        f.write_bytes(rnd.randbytes(rnd.randrange(1000, 131_000)))
        os.link(f, src / "links" / f"g{i}.dat")


def other_fs(tmp_path):
    shm = "/dev/shm"
    if not os.access(shm, os.W_OK) or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem at /dev/shm (cross-filesystem case)")
    return shm


@pytest.mark.parametrize("seed", [1])
def test_verify_with_large_files_and_hard_links_copies_exactly(cli, tmp_path, seed):
    src, dst = tmp_path / "src", tmp_path / "dst"
    links_tree(src, seed=seed)
    proc = cli("copy", "--verify", src, dst)
    assert proc.returncode == 0, f"seed {seed}: {proc.stderr}"
    assert manifest(dst) == manifest(src), f"seed {seed}"


def submit(cli, *args) -> int:
    return int(cli("copy", *map(str, args), "--detach", check=True).stdout)


def pause_and_resume(cli, store, job: int, *, after_bytes: int) -> None:
    wait_for(lambda: (store.get(job).progress.bytes_done or 0) >= after_bytes
             or store.get(job).status not in ("queued", "running"), timeout=60, what="progress")
    paused = cli("jobs", "pause", job)
    assert paused.returncode == 0, paused.stderr
    wait_for(lambda: store.get(job).status in ("paused", "completed", "completed-with-errors", "failed"),
             what="paused")
    assert store.get(job).status == "paused", "the job ended before it could be paused: make the tree bigger"
    store.set_settings(job, bwlimit=None)
    cli("jobs", "resume", job, check=True)


def test_move_across_filesystems_of_the_verify_tree_loses_nothing(cli, tmp_path):
    """Before: --move deleted the sources of copies the shared buffer had corrupted."""
    shm = other_fs(tmp_path)
    src = tmp_path / "src"
    links_tree(src, seed=2, pairs=100)
    before = manifest(src)
    dst = os.path.join(shm, f"sdjobs-trust-{os.getpid()}")
    try:
        proc = cli("copy", "--move", src, dst)
        assert proc.returncode == 0, proc.stderr
        assert manifest(dst) == before
        assert not src.exists()
    finally:
        subprocess.run(["rm", "-rf", dst])


def test_pause_and_resume_keep_hard_links(cli, store, start_runner, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    rnd = random.Random(3)
    for i in range(50):  # 100 hard-linked names
        (src / f"a{i:02}").write_bytes(rnd.randbytes(600_000))
        os.link(src / f"a{i:02}", src / f"b{i:02}")
    start_runner()
    job = submit(cli, src, dst, "--bwlimit", "4M")
    pause_and_resume(cli, store, job, after_bytes=6_000_000)
    assert cli("jobs", "wait", job, timeout=90).returncode == 0
    assert manifest(dst) == manifest(src)


def test_a_paused_cross_filesystem_move_keeps_directory_times_and_counts_every_attempt(cli, store, start_runner,
                                                                                        tmp_path):
    shm = other_fs(tmp_path)
    src = tmp_path / "src"
    rnd = random.Random(5)
    times = {}
    for d in range(8):
        sub = src / f"d{d}"
        sub.mkdir(parents=True)
        for i in range(3):
            (sub / f"f{i}").write_bytes(rnd.randbytes(600_000))
        os.utime(sub, ns=(1_000_000_000, 1_100_000_000_000_000_000 + d))
        times[f"d{d}"] = 1_100_000_000_000_000_000 + d
    before = {k: v for k, v in manifest(src).items()}
    dst = os.path.join(shm, f"sdjobs-trust-{os.getpid()}")
    try:
        start_runner()
        job = submit(cli, "--move", src, dst, "--bwlimit", "4M")
        pause_and_resume(cli, store, job, after_bytes=4_000_000)
        assert cli("jobs", "wait", job, timeout=90).returncode == 0
        assert manifest(dst) == before
        for name, mtime in times.items():
            assert os.stat(os.path.join(dst, name)).st_mtime_ns == mtime, name
        assert store.get(job).output["files"] == 24, store.get(job).output
    finally:
        subprocess.run(["rm", "-rf", dst])


def test_overwrite_verify_rewrites_a_changed_file_whose_size_and_mtime_match(cli, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "f").write_bytes(b"the right content")
    (dst / "f").write_bytes(b"a wrong  content!")
    st = os.stat(src / "f")
    os.utime(dst / "f", ns=(st.st_atime_ns, st.st_mtime_ns))
    for policy in ("overwrite", "skip"):
        proc = cli("copy", "--verify", "--on-conflict", policy, src / "f", dst)
        assert proc.returncode == 0, proc.stderr
        expected = b"the right content" if policy == "overwrite" else b"a wrong  content!"
        assert (dst / "f").read_bytes() == expected, policy
        (dst / "f").write_bytes(b"a wrong  content!")
        os.utime(dst / "f", ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("verify", [[], ["--verify"]], ids=["plain", "verify"])
def test_rename_copies_a_source_whose_destination_only_looks_the_same(cli, tmp_path, verify):
    """--on-conflict rename keeps the existing file and writes the source beside it, also when
    the existing one has the source's size and mtime but not its content (found by the soak:
    it was skipped as if already copied, and the source's content was nowhere in the copy)."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "f.txt").write_bytes(b"the right content")
    (dst / "f.txt").write_bytes(b"a wrong  content!")
    st = os.stat(src / "f.txt")
    os.utime(dst / "f.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    proc = cli("copy", *verify, "--on-conflict", "rename", src / "f.txt", dst)
    assert proc.returncode == 0, proc.stderr
    assert (dst / "f.txt").read_bytes() == b"a wrong  content!"
    assert (dst / "f (1).txt").read_bytes() == b"the right content"
    proc = cli("copy", *verify, "--on-conflict", "rename", src / "f.txt", dst)  # again: nothing new
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(dst)) == ["f (1).txt", "f.txt"]


@pytest.mark.parametrize("change", ["truncate", "rewrite the start"])
def test_a_source_changed_mid_copy_is_never_kept_torn(cli, store, start_runner, tmp_path, change):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    size = 12 * 1024 * 1024
    (src / "f").write_bytes(os.urandom(size))
    start_runner()
    job = submit(cli, "--verify", src, dst, "--bwlimit", "4M")
    wait_for(lambda: (store.get(job).progress.bytes_done or 0) > 1_000_000, timeout=60, what="the copy to start")
    if change == "truncate":
        os.truncate(src / "f", size // 3)
    else:
        with open(src / "f", "r+b") as f:
            f.write(b"changed after it was copied")
    store.set_settings(job, bwlimit=None)
    assert cli("jobs", "wait", job, timeout=90).returncode in (0, 1)
    if (dst / "f").exists():
        assert (dst / "f").read_bytes() == (src / "f").read_bytes(), "a torn copy was kept"
        assert os.stat(dst / "f").st_mtime_ns == os.stat(src / "f").st_mtime_ns
    assert not [n for n in os.listdir(dst) if n.endswith(".part")]


def test_move_skip_with_a_vanished_source_is_a_per_file_problem(store, tmp_path, monkeypatch):
    from dupes_helpers import run_inline

    from sdjobs.fs import copyfile as cf

    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for name in ("a", "b"):
        (src / name).write_bytes(b"same " + name.encode())
    out.mkdir()
    subprocess.run(["cp", "-a", str(src), str(out / "src")], check=True)
    real = cf.same_quick

    def vanish_then_check(st, dfd, name):  # the source goes between the walk and the check
        if name == "a" and (src / "a").exists():
            os.unlink(src / "a")
        return real(st, dfd, name)
    monkeypatch.setattr(cf, "same_quick", vanish_then_check)
    rec = run_inline(store, "copy", {"sources": [str(src)], "dest": str(out), "move": True,
                                     "on_conflict": "skip", "targets": []})
    assert rec.status in ("completed", "completed-with-errors"), rec.error
    assert (out / "src" / "a").read_bytes() == b"same a" and (out / "src" / "b").read_bytes() == b"same b"
    assert not (src / "b").exists()


def test_bwlimit_holds_for_many_small_files(cli, tmp_path):
    import time

    src = tmp_path / "src"
    src.mkdir()
    for i in range(300):
        (src / f"f{i:03}").write_bytes(os.urandom(10_000))  # 3 MB
    started = time.monotonic()
    assert cli("copy", src, tmp_path / "dst", "--bwlimit", "1M", check=True).returncode == 0
    elapsed = time.monotonic() - started
    assert elapsed >= 3_000_000 / (1.1 * 1024 * 1024) - 1.0, f"{elapsed:.1f}s for 3 MB at 1 MiB/s"
    assert manifest(tmp_path / "dst") == manifest(src)


def test_fifos_count_and_unmakeable_entries_say_what_they_are(cli, tmp_path, monkeypatch):
    from sdjobs.fs import copyfile as cf

    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "fifo")
    import json
    proc = cli("copy", src, tmp_path / "dst", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"]["files"] == 1
    assert stat.S_ISFIFO(os.lstat(tmp_path / "dst" / "fifo").st_mode)
    monkeypatch.setattr(cf, "IS_ROOT", False)
    assert "character device" in cf.special_problem(os.stat("/dev/zero"))
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "sock"))
    assert "socket" in cf.special_problem(os.lstat(tmp_path / "sock"))
    s.close()


def test_a_destination_that_cannot_be_written_reports_why_not_vanished(cli, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    for i in range(5):
        (src / "sub" / f"f{i}").write_text("x")
    dst.mkdir()
    if subprocess.run(["chattr", "+i", str(dst)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not possible here (needs root and a filesystem that has it)")
    try:
        proc = cli("copy", src, dst)
        assert proc.returncode == 1
        assert "vanished" not in proc.stderr and "not permitted" in proc.stderr, proc.stderr
        assert "1 error;" in proc.stderr, "one error for the directory, not one per file under it"
    finally:
        subprocess.run(["chattr", "-i", str(dst)])


def outside_state(root) -> dict:
    """Modes, owners, times and contents of everything in ``root``: nothing may change there."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in ["."] + dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            body = open(p, "rb").read() if stat.S_ISREG(st.st_mode) else None
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, body)
    return out


def hostile_tree(src, dirs: int = 3, files: int = 40):
    for d in range(dirs):
        sub = src / "sub" / f"d{d}"
        sub.mkdir(parents=True)
        for i in range(files):
            (sub / f"f{i}").write_bytes(b"payload %d" % i)
        os.chmod(sub, 0o777)
    os.chmod(src / "sub", 0o777)


@pytest.mark.parametrize("policy", ["skip", "overwrite"])
def test_a_symlink_in_place_of_a_destination_directory_is_never_followed(cli, tmp_path, policy):
    src, dst, outside = tmp_path / "src", tmp_path / "dst", tmp_path / "outside"
    hostile_tree(src)
    (outside / "d0").mkdir(parents=True)
    (outside / "d0" / "f0").write_bytes(b"root's own")
    os.chmod(outside, 0o755)
    (dst / "src").mkdir(parents=True)
    os.symlink(outside, dst / "src" / "sub")
    before = outside_state(outside)
    proc = cli("copy", "--on-conflict", policy, src, dst)
    assert proc.returncode == 1, proc.stderr
    assert outside_state(outside) == before, "written outside the destination"
    assert os.readlink(dst / "src" / "sub") == str(outside)


def test_destination_directories_swapped_for_symlinks_mid_copy_write_nothing_outside(cli, tmp_path):
    """The attacker swaps a destination directory for a symlink to an outside one in a tight loop."""
    import threading

    src, dst, outside = tmp_path / "src", tmp_path / "dst", tmp_path / "outside"
    hostile_tree(src, dirs=6, files=300)
    for d in range(6):
        (outside / f"d{d}").mkdir(parents=True)
    os.chmod(outside, 0o755)
    before = outside_state(outside)
    (dst / "src" / "sub").mkdir(parents=True)  # as a previous copy left it: the attacker can write it
    swaps, stop = [0], threading.Event()

    def attack():
        real, link = dst / "src" / "sub.real", dst / "src" / "sub"
        while not stop.is_set():
            try:
                os.rename(link, real)
                os.symlink(outside, link)
                os.unlink(link)
                os.rename(real, link)
                swaps[0] += 1
            except OSError:
                pass
    thread = threading.Thread(target=attack)
    thread.start()
    try:
        for _ in range(3):
            proc = cli("copy", "--on-conflict", "skip", src, dst)
            assert outside_state(outside) == before, f"written outside after {swaps[0]} swaps: {proc.stderr}"
            if swaps[0] >= 200:
                break
    finally:
        stop.set()
        thread.join()
    assert swaps[0] >= 200, f"only {swaps[0]} swaps"


def test_names_of_255_bytes_copy_as_cp_a_copies_them(cli, tmp_path):
    src = tmp_path / "src"
    long_dir = src / ("d" * 255)
    long_dir.mkdir(parents=True)
    (long_dir / ("f" * 255)).write_bytes(os.urandom(5000))
    (long_dir / ("B" * 255)).write_bytes(os.urandom(9 * 1024 * 1024))  # a large one, in its thread
    os.link(long_dir / ("f" * 255), long_dir / ("h" * 255))
    os.symlink("f" * 255, long_dir / ("s" * 255))
    os.mkfifo(long_dir / ("p" * 255))
    subprocess.run(["cp", "-a", str(src), str(tmp_path / "by-cp")], check=True)
    proc = cli("copy", "--verify", src, tmp_path / "by-sdjobs")
    assert proc.returncode == 0, proc.stderr
    assert manifest(tmp_path / "by-sdjobs") == manifest(tmp_path / "by-cp")


def test_a_source_directory_swapped_for_a_symlink_during_a_move_never_reads_or_removes_outside(cli, tmp_path):
    """--move across filesystems: what the source's symlink points at is neither copied nor removed."""
    import shutil
    import threading
    import time

    shm = other_fs(tmp_path)
    outside = tmp_path / "outside"
    for d in range(4):
        (outside / f"d{d}").mkdir(parents=True)
        for i in range(200):
            (outside / f"d{d}" / f"f{i}").write_bytes(b"secret %d" % i)
    before = outside_state(outside)
    swaps, stop = [0], threading.Event()
    src = tmp_path / "src"

    def attack():
        real, link = src / "sub.real", src / "sub"
        while not stop.is_set():
            try:
                os.rename(link, real)
                os.symlink(outside, link)
                time.sleep(0.002)  # (long enough for a walk by path to go through it)
                os.unlink(link)
                os.rename(real, link)
                swaps[0] += 1
                time.sleep(0.002)
            except OSError:
                pass
    for attempt in range(12):  # until 200 swaps (the machine may be busy)
        shutil.rmtree(src, ignore_errors=True)
        hostile_tree(src, dirs=4, files=200)
        dst = os.path.join(shm, f"sdjobs-trust-{os.getpid()}-{attempt}")
        stop.clear()
        thread = threading.Thread(target=attack)
        thread.start()
        try:
            proc = cli("copy", "--move", "--on-conflict", "skip", src, dst)
            stop.set()
            thread.join()
            assert outside_state(outside) == before, f"outside changed after {swaps[0]} swaps: {proc.stderr}"
            for dirpath, _, files in os.walk(dst):
                for name in files:
                    assert not open(os.path.join(dirpath, name), "rb").read().startswith(b"secret"), \
                        f"read outside the source after {swaps[0]} swaps"
        finally:
            stop.set()
            thread.join()
            subprocess.run(["rm", "-rf", dst])
        if swaps[0] >= 200:
            break
    assert swaps[0] >= 200, f"only {swaps[0]} swaps"


def test_move_removes_a_source_only_after_its_copy_and_directory_are_synced(store, tmp_path, monkeypatch):
    """A power loss must not lose both: fsync of the copy and of its directory, or a syncfs of the
    destination's filesystem (a batch of small files), come before the unlink."""
    from dupes_helpers import run_inline

    from sdjobs.fs import copyfile as cf

    shm = other_fs(tmp_path)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for i in range(20):
        (src / "sub" / f"f{i}").write_bytes(os.urandom(3000))
    (src / "big").write_bytes(os.urandom(9 * 1024 * 1024))
    os.link(src / "sub" / "f0", src / "sub" / "h0")
    os.symlink("f1", src / "sub" / "s1")
    log = tmp_path / "log"
    real_fsync, real_unlink = os.fsync, os.unlink

    def note(line: str) -> None:
        with open(log, "a") as f:
            f.write(line + "\n")

    def fsync(fd):
        note(f"fsync {os.fstat(fd).st_ino} {os.readlink(f'/proc/self/fd/{fd}')}")
        return real_fsync(fd)

    def unlink(path, *, dir_fd=None):
        where = os.readlink(f"/proc/self/fd/{dir_fd}") if dir_fd is not None else ""
        note("unlink " + os.path.join(where, os.fsdecode(path)))
        return real_unlink(path, dir_fd=dir_fd)
    real_syncfs = cf.sync_filesystem

    def syncfs(fd):
        note(f"syncfs {os.fstat(fd).st_dev} -")
        return real_syncfs(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(cf, "sync_filesystem", syncfs)
    dst = os.path.join(shm, f"sdjobs-trust-{os.getpid()}")
    try:
        rec = run_inline(store, "copy", {"sources": [str(src)], "dest": dst, "move": True})
        assert rec.status == "completed", rec.error
        lines = log.read_text().splitlines()
        synced, inodes = [], []
        removed = 0
        everything = False  # a syncfs of the destination's filesystem: all written before it is durable
        for line in lines:
            verb, path = line.split(" ", 1)
            if verb == "syncfs":
                everything = everything or int(path.split()[0]) == os.stat(shm).st_dev
            elif verb == "fsync":
                ino, path = path.split(" ", 1)
                synced.append(path)
                inodes.append(int(ino))
            elif path.startswith(str(src)):
                rel = os.path.relpath(path, src)
                copy = os.path.join(dst, rel)
                assert everything or os.path.dirname(copy) in synced, \
                    f"{rel} removed before its copy's directory was synced"
                if not rel.startswith("sub/s") and not everything:
                    assert os.lstat(copy).st_ino in inodes, f"{rel} removed before its copy was synced"
                removed += 1
        assert removed == 23
        assert any(line.startswith("syncfs") for line in lines) == cf.HAVE_SYNCFS  # (the batch of small files)
    finally:
        subprocess.run(["rm", "-rf", dst])


def test_an_absurd_bwlimit_is_bad_input(cli, tmp_path, store):
    (tmp_path / "s").write_text("x")
    proc = cli("copy", tmp_path / "s", tmp_path / "d", "--bwlimit", "99999999999999999999999T")
    assert proc.returncode == 2 and "too large" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert store.list_jobs() == []


@pytest.mark.parametrize("when", ["running", "paused"])
def test_a_cancelled_copy_leaves_no_temporary_file(cli, store, start_runner, tmp_path, when):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "big").write_bytes(os.urandom(12 * 1024 * 1024))
    start_runner()
    job = submit(cli, src, dst, "--bwlimit", "4M")
    wait_for(lambda: (store.get(job).progress.bytes_done or 0) > 1_000_000, timeout=60, what="progress")
    assert [n for n in os.listdir(dst) if n.endswith(".part")], "no temp file to resume from"
    if when == "paused":
        cli("jobs", "pause", job, check=True)
        wait_for(lambda: store.get(job).status == "paused", what="paused")
    cli("jobs", "cancel", job, check=True)
    wait_for(lambda: store.get(job).status == "cancelled", what="cancelled")
    wait_for(lambda: not [n for n in os.listdir(dst) if n.endswith(".part")], what="the temp file to go")
