"""copy: cp -a semantics, atomicity, conflicts, bad input, resume after SIGKILL, Ctrl-C, full disk."""

import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from conftest import wait_for

RAW = b"caf\xe9-\xff.bin"  # not valid UTF-8


def make_tree(root):
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("hello\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (root / "sub" / "deeper" / "c").write_bytes(b"")
    os.symlink("a.txt", root / "link")
    os.symlink("/nonexistent/target", root / "sub" / "dangling")
    os.link(root / "a.txt", root / "sub" / "hard")
    os.mkfifo(root / "fifo")
    with open(os.path.join(os.fsencode(root), RAW), "wb") as f:
        f.write(b"bytes")
    os.chmod(root / "sub" / "b.bin", 0o640)
    os.chmod(root / "sub" / "deeper", 0o750)
    os.utime(root / "a.txt", ns=(1_000_000_000, 1_234_567_891_000))
    os.utime(root / "sub", ns=(1_000_000_000, 1_111_111_111_000))


def snapshot(root):
    """Everything cp -a keeps: kind, mode, mtime, content, link target, hard-link grouping."""
    out, inodes = {}, {}
    broot = os.fsencode(root)
    for dirpath, dirs, files in os.walk(broot):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, broot)
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            item = [kind, stat.S_IMODE(st.st_mode), st.st_mtime_ns if not stat.S_ISLNK(st.st_mode) else None]
            if stat.S_ISREG(st.st_mode):
                item.append(open(p, "rb").read())
                if st.st_nlink > 1:
                    item.append(inodes.setdefault(st.st_ino, len(inodes)))
            elif stat.S_ISLNK(st.st_mode):
                item.append(os.readlink(p))
            out[rel] = item
    return out


def temps(root):
    return [n for _, _, files in os.walk(root) for n in files if n.endswith(".part")]


def test_copy_is_cp_a(cli, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_tree(src)
    proc = cli("copy", src, dst, "--json")
    assert proc.returncode == 0, proc.stderr
    assert snapshot(dst) == snapshot(src)
    assert temps(dst) == []
    import json
    rec = json.loads(proc.stdout)
    assert rec["status"] == "completed" and rec["output"]["links"] == 2
    assert "copied" in proc.stderr


def test_copy_matches_cp_a_itself(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    subprocess.run(["cp", "-a", str(src), str(tmp_path / "by-cp")], check=True)
    assert cli("copy", src, tmp_path / "by-sdjobs").returncode == 0
    assert snapshot(tmp_path / "by-sdjobs") == snapshot(tmp_path / "by-cp")


def test_several_sources_into_a_directory_with_verify(cli, tmp_path):
    (tmp_path / "one").write_text("1")
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "x").write_bytes(os.urandom(20_000))
    (tmp_path / "out").mkdir()
    proc = cli("copy", tmp_path / "one", tmp_path / "two", tmp_path / "out", "--verify")
    assert proc.returncode == 0, proc.stderr
    assert "verified" in proc.stderr
    assert (tmp_path / "out" / "one").read_text() == "1"
    assert (tmp_path / "out" / "two" / "x").read_bytes() == (tmp_path / "two" / "x").read_bytes()


@pytest.mark.parametrize("args,message", [
    (["missing", "out"], "no such file or directory"),
    (["src", "src/inner/again"], "into itself"),
    (["src", "file", "file2"], "is not a directory"),
    (["src", "nowhere/deep/dst"], "parent directory does not exist"),
])
def test_bad_input_exits_2_and_enqueues_nothing(cli, tmp_path, store, args, message):
    (tmp_path / "src" / "inner").mkdir(parents=True)
    (tmp_path / "file").write_text("x")
    os.chdir(tmp_path)
    proc = cli("copy", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1
    assert store.list_jobs() == []


def test_conflicts_fail_by_default_and_nothing_is_written(cli, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "d").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "d/c.txt"):
        (src / name).write_text("new " + name)
    (dst / "d").mkdir(parents=True)
    (dst / "a.txt").write_text("old a")
    (dst / "d" / "c.txt").write_text("old c")
    proc = cli("copy", src / "a.txt", src / "b.txt", src / "d", dst)
    assert proc.returncode == 1
    assert "2 destination(s) exist" in proc.stderr and "a.txt" in proc.stderr
    assert not (dst / "b.txt").exists()
    assert (dst / "a.txt").read_text() == "old a"

    assert cli("copy", src / "a.txt", src / "d", dst, "--on-conflict", "skip").returncode == 0
    assert (dst / "a.txt").read_text() == "old a"
    assert cli("copy", src / "a.txt", src / "d", dst, "--on-conflict", "overwrite").returncode == 0
    assert (dst / "a.txt").read_text() == "new a.txt" and (dst / "d" / "c.txt").read_text() == "new d/c.txt"
    (dst / "a.txt").write_text("changed")
    assert cli("copy", src / "a.txt", dst, "--on-conflict", "rename").returncode == 0
    assert (dst / "a (1).txt").read_text() == "new a.txt" and (dst / "a.txt").read_text() == "changed"


def test_move_on_one_filesystem_renames(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    before = snapshot(src)
    inode = os.stat(src / "sub" / "b.bin").st_ino
    assert cli("copy", "--move", src, tmp_path / "moved").returncode == 0
    assert not src.exists()
    assert snapshot(tmp_path / "moved") == before
    assert os.stat(tmp_path / "moved" / "sub" / "b.bin").st_ino == inode


def test_move_across_filesystems_copies_verifies_and_removes(cli, tmp_path):
    shm = "/dev/shm"
    if not os.access(shm, os.W_OK) or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem at /dev/shm")
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    before = snapshot(src)
    dst = os.path.join(shm, f"sdjobs-test-{os.getpid()}")
    try:
        proc = cli("copy", "--move", src, dst)
        assert proc.returncode == 0, proc.stderr
        assert "verified" in proc.stderr
        assert not src.exists()
        assert snapshot(dst) == before
    finally:
        subprocess.run(["rm", "-rf", dst])


def big_tree(src):
    src.mkdir()
    (src / "aaa-small").mkdir()
    for i in range(30):
        (src / "aaa-small" / f"f{i:02}").write_bytes(os.urandom(1000 + i))
    (src / "big.bin").write_bytes(os.urandom(48 * 1024 * 1024))
    (src / "zzz-after").write_text("after the big one")


def test_sigkill_mid_copy_resumes_to_an_identical_tree(cli, store, start_runner, tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    big_tree(src)
    runner = start_runner()
    job = int(cli("copy", src, dst, "--detach", "--bwlimit", "24M", check=True).stdout)
    wait_for(lambda: (store.get(job).progress.bytes_done or 0) > 12 * 1024 * 1024, what="half the big file")
    runner.kill_group()
    done_early = {p.name: os.stat(p).st_ino for p in (dst / "aaa-small").iterdir() if not p.name.startswith(".")}
    assert len(done_early) == 30
    assert not (dst / "big.bin").exists(), "a half-written file is visible under its final name"
    assert temps(dst), "the partial big file should be kept to resume from"
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=90).returncode == 0
    assert snapshot(dst) == snapshot(src)
    assert temps(dst) == []
    assert {p: os.stat(dst / "aaa-small" / p).st_ino for p in done_early} == done_early, "completed files copied again"
    assert any("resuming" in e.message for e in store.events(job))


def test_ctrl_c_pauses_the_followed_job_and_exits_130(cli, store, tmp_path):
    src = tmp_path / "src"
    big_tree(src)
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "copy", str(src), str(tmp_path / "dst"),
                             "--bwlimit", "16M"], stderr=subprocess.PIPE, text=True)
    wait_for(lambda: any((r.progress.bytes_done or 0) > 1_000_000 for r in store.list_jobs()), what="progress")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    job = store.list_jobs()[0]
    assert job.status == "paused"
    assert f"sdjobs jobs resume {job.id}" in err
    cli("jobs", "resume", job.id, check=True)
    store.set_settings(job.id, bwlimit=None)
    assert cli("jobs", "wait", job.id, timeout=90).returncode == 0
    assert snapshot(tmp_path / "dst") == snapshot(src)


def small_tmpfs(tmp_path, size: str):
    """A tmpfs of ``size`` mounted at tmp_path/small (the test is skipped where mount is refused)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    return mnt


def test_full_disk_fails_clearly_with_no_partial_file(cli, store, tmp_path):
    mnt = small_tmpfs(tmp_path, "2m")
    try:
        src = tmp_path / "src"
        src.mkdir()
        (src / "fits").write_bytes(os.urandom(100_000))
        (src / "too-big").write_bytes(os.urandom(10 * 1024 * 1024))
        proc = cli("copy", src, mnt / "dst")
        assert proc.returncode == 1
        assert "destination is full" in proc.stderr
        assert not (mnt / "dst" / "too-big").exists()
        assert temps(mnt) == []
        assert store.list_jobs()[0].status == "failed"
    finally:
        # Nothing of the job (its process, its workers and what they inherited) holds the mount
        # for long once the command is over: it unmounts within a second (it once stayed busy).
        deadline = time.monotonic() + 1
        while subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "the destination stayed busy after the job failed"
            time.sleep(0.05)


def test_unreadable_file_is_a_non_critical_error(cli, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok").write_text("ok")
    (src / "secret").write_text("no")
    os.chmod(src / "secret", 0)
    proc = cli("copy", src, tmp_path / "dst")
    assert proc.returncode == 1
    assert "completed-with-errors" in proc.stderr and "secret" in proc.stderr
    assert (tmp_path / "dst" / "ok").read_text() == "ok"


def many_small(root, dirs=3, per_dir=250):
    """More files than one fan-out batch holds, with varied modes and times."""
    for d in range(dirs):
        (root / f"d{d}").mkdir(parents=True)
        for i in range(per_dir):
            p = root / f"d{d}" / f"f{i:03}"
            p.write_bytes(os.urandom(100 + (i * 37) % 3000))
            os.chmod(p, (0o644, 0o600, 0o755, 0o444)[i % 4])
            os.utime(p, ns=(1_000_000_000, 1_500_000_000_000_000_000 + i * 1_000_003))


@pytest.mark.parametrize("verify", [False, True])
def test_many_small_files_in_batches(cli, tmp_path, verify):
    src, dst = tmp_path / "src", tmp_path / "dst"
    many_small(src)
    proc = cli("copy", src, dst, "--json", *(["--verify"] if verify else []))
    assert proc.returncode == 0, proc.stderr
    import json
    assert json.loads(proc.stdout)["output"]["files"] == 750
    assert snapshot(dst) == snapshot(src)
    assert temps(dst) == []


def test_many_small_files_merge_into_an_existing_tree_by_policy(cli, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    many_small(src, dirs=2, per_dir=200)
    (out / "src" / "d1").mkdir(parents=True)  # copied into out/ as out/src, which partly exists
    (out / "src" / "d1" / "f007").write_text("mine")
    assert cli("copy", src, out).returncode == 1  # the default policy: fail, and write nothing
    assert os.listdir(out / "src" / "d1") == ["f007"]
    assert cli("copy", src, out, "--on-conflict", "skip").returncode == 0
    assert (out / "src" / "d1" / "f007").read_text() == "mine"
    files = lambda root: {k: v for k, v in snapshot(root).items() if v[0] != stat.S_IFDIR}
    assert files(out / "src") == {k: v for k, v in files(src).items() if k != b"d1/f007"} | \
        {b"d1/f007": files(out / "src")[b"d1/f007"]}
    assert temps(out) == []


def test_full_disk_with_many_small_files_fails_with_no_partial_file(cli, store, tmp_path):
    mnt = small_tmpfs(tmp_path, "1m")
    try:
        src = tmp_path / "src"
        many_small(src, dirs=2, per_dir=400)  # about 2.4 MB
        proc = cli("copy", src, mnt / "dst")
        assert proc.returncode == 1
        assert "destination is full" in proc.stderr
        assert temps(mnt) == []
        for dirpath, _, files in os.walk(mnt / "dst"):
            for name in files:
                p = os.path.join(dirpath, name)
                rel = os.path.relpath(p, mnt / "dst")
                assert open(p, "rb").read() == open(src / rel, "rb").read(), f"{rel} is incomplete"
        assert store.list_jobs()[0].status == "failed"
    finally:
        # Nothing of the job (its process, its workers and what they inherited) holds the mount
        # for long once the command is over: it unmounts within a second (it once stayed busy).
        deadline = time.monotonic() + 1
        while subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "the destination stayed busy after the job failed"
            time.sleep(0.05)
