"""A library that cannot be used says why in one line: never a traceback, never a hang."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

NO_CAPS = ["setpriv", "--bounding-set=-all", "--"]  # root without CAP_DAC_*: permissions apply


def sdjobs(*args, prefix=(), env=None, timeout=60, cwd=None):
    return subprocess.run([*prefix, sys.executable, "-m", "sdjobs", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "SDJOBS_CLI_SERVER": "0", **(env or {})}, cwd=cwd)


def one_line_error(proc, code: int, *words: str) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code and len(lines) == 1, proc.stderr
    assert lines[0].startswith("sdjobs: error: ") and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("content", [b"garbage\n", os.urandom(8192)], ids=["text", "random"])
def test_a_file_that_is_not_a_database(lib, tmp_path, content):
    bad = tmp_path / "x.db"
    bad.write_bytes(content)
    one_line_error(sdjobs("-L", bad, "jobs", "ls"), 2, str(bad), "not an sdjobs library")
    assert bad.read_bytes() == content


def test_a_device_as_the_library(lib):
    one_line_error(sdjobs("-L", "/dev/null", "jobs", "ls"), 2, "/dev/null", "writable by others")  # store/trust.py


def _bump_core_schema(lib, by: int) -> int:
    with sqlite3.connect(lib) as conn:
        conn.execute("UPDATE schema_version SET version = version + ? WHERE component = 'core'", (by,))
        return conn.execute("SELECT version FROM schema_version WHERE component = 'core'").fetchone()[0]


def test_a_library_newer_than_this_sdjobs(lib, cli):
    cli("jobs", "ls", check=True)
    have = _bump_core_schema(lib, 5)
    try:
        line = one_line_error(cli("jobs", "ls"), 2, str(lib), f"core v{have}", f"v{have - 5}", "newer")
        assert "upgrade" in line
        one_line_error(cli("copy", lib.parent, lib.parent / "x"), 2, "newer")
        with sqlite3.connect(lib) as conn:
            assert conn.execute("SELECT count(*) FROM job").fetchone() == (0,)
        assert not (lib.parent / "x").exists()
    finally:
        _bump_core_schema(lib, -5)  # for the fixture's clean-up


def _can_drop_caps() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


@pytest.mark.skipif(not _can_drop_caps(), reason="needs root and setpriv to act as a user whom permissions bind")
def test_libraries_out_of_reach(lib, tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    os.chmod(other, 0o600)
    os.chown(other, 65534, 65534)
    one_line_error(sdjobs("-L", other, "jobs", "ls", prefix=NO_CAPS), 2, str(other), "owned by uid")  # trust.py
    ro = tmp_path / "ro"  # ours (so trusted) but not writable: permissions, not trust, stop it
    ro.mkdir()
    os.chmod(ro, 0o555)
    one_line_error(sdjobs("-L", ro / "l.db", "jobs", "ls", prefix=NO_CAPS), 2, str(ro), "ermission denied")
    one_line_error(sdjobs("-L", ro / "sub" / "l.db", "jobs", "ls", prefix=NO_CAPS), 2, str(ro), "ermission denied")


@pytest.fixture
def small_tmpfs(tmp_path):
    where = tmp_path / "small"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MiB tmpfs for the full-disk case needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_library_on_a_full_disk(lib, small_tmpfs, tmp_path):
    db = small_tmpfs / "l.db"
    assert sdjobs("-L", db, "jobs", "ls").returncode == 0
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_text("x")
    with open(small_tmpfs / "fill", "wb", buffering=0) as f:  # (unbuffered: nothing left to flush at close)
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    proc = sdjobs("-L", db, "copy", tmp_path / "src", tmp_path / "dst", env={"SDJOBS_RUNNER_IDLE_EXIT": "1"})
    one_line_error(proc, 1, "library disk is full", str(db))
    assert not (tmp_path / "dst").exists()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _library_files(lib):
    return [p for p in lib.parent.iterdir() if p.name.startswith(lib.stem)]


@pytest.mark.parametrize("what", ["everything", "the database files"])
def test_a_deleted_library_stops_its_runner_and_a_new_one_takes_over(lib, cli, tmp_path, what):
    import time

    from conftest import wait_for

    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_text("x")
    env = {"SDJOBS_RUNNER_IDLE_EXIT": "60"}
    assert cli("copy", tmp_path / "src", tmp_path / "d1", env=env).returncode == 0
    with _nullcontext(Store(Library(lib))) as store:
        [old] = store.runners(live_only=True)
    for p in _library_files(lib):
        if p.is_dir():
            if what == "everything":
                shutil.rmtree(p)
        else:
            p.unlink()
    started = time.monotonic()
    r = cli("copy", tmp_path / "src", tmp_path / "d2", env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 8, "the command waited for a runner of a deleted library"
    assert (tmp_path / "d2" / "a").read_text() == "x"
    wait_for(lambda: not _alive(old.pid), timeout=10, what="the runner of the deleted library to exit")
    with _nullcontext(Store(Library(lib))) as store:
        live = store.runners(live_only=True)
        assert old.pid not in [x.pid for x in live] and len(live) <= 1


def test_a_library_removed_but_its_data_folder_keeps_one_runner(lib, cli, tmp_path):
    """Only the data folder (and runner.lock in it) removed: the runner takes the lock again,
    so commands never start a second runner on the same live file."""
    from conftest import wait_for

    from sdjobs.runner.prestart import runner_alive
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_text("x")
    env = {"SDJOBS_RUNNER_IDLE_EXIT": "60"}
    assert cli("copy", tmp_path / "src", tmp_path / "d1", env=env).returncode == 0
    data = lib.parent / "library-data"
    shutil.rmtree(data)
    wait_for(lambda: runner_alive(str(data)), timeout=10, what="the runner to hold runner.lock again")
    assert cli("copy", tmp_path / "src", tmp_path / "d2", env=env).returncode == 0
    with _nullcontext(Store(Library(lib))) as store:
        assert len(store.runners(live_only=True)) == 1


class _nullcontext:
    def __init__(self, store):
        self.store = store

    def __enter__(self):
        return self.store

    def __exit__(self, *exc):
        self.store.close()


@pytest.mark.parametrize("keep", ["a third", "nothing"])
def test_a_truncated_library_under_a_live_runner(lib, cli, tmp_path, keep):
    """Cut to a third, or to nothing (SQLite would take an empty file for a new database, discard
    the runner's WAL and wait 60 s on the runner's lock): commands answer in one line at once,
    the runner stops, and the copy it ran leaves no temporary file."""
    import time

    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "f").write_bytes(os.urandom(4 << 20))
    r = cli("copy", "--detach", "--bwlimit", "512K", tmp_path / "big", tmp_path / "d", env={"SDJOBS_RUNNER_IDLE_EXIT": "60"})
    assert r.returncode == 0, r.stderr
    _wait_for_temporary(tmp_path / "d")
    with sqlite3.connect(lib, timeout=10) as conn:  # every page in the file: the cut takes them
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.truncate(lib, os.path.getsize(lib) // 3 if keep == "a third" else 0)
    try:
        for _ in range(3):
            started = time.monotonic()
            proc = cli("jobs", "ls", timeout=30)
            assert time.monotonic() - started < 10
            one_line_error(proc, 2, str(lib), "damaged")
        from conftest import wait_for

        wait_for(lambda: not _runners_of(lib), timeout=20, what="the runner to stop on its damaged library")
        log = (lib.parent / "library-data" / "runner.log").read_text()
        assert "Traceback" not in log and ("sdjobs runner: stopped: " in log or "was damaged" in log), log[-3000:]
        assert _temporaries(tmp_path / "d") == []
    finally:  # the fixture cannot stop runners through a damaged library: by pid, then its files
        for pid in _runners_of(lib):
            os.kill(pid, 9)
        for p in _library_files(lib):
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def _runners_of(lib) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"sdjobs.runner.background" in argv and os.fsencode(lib) in argv:
            pids.append(int(entry))
    return pids


def _temporaries(root) -> list[str]:
    return [os.path.join(d, n) for d, _, names in os.walk(root) for n in names if ".sdjobs-" in n]


def _wait_for_temporary(root) -> None:
    from conftest import wait_for

    wait_for(lambda: _temporaries(root), timeout=30, what=f"a temporary file of the copy under {root}")


def test_a_copy_whose_library_is_deleted_stops_for_good_and_leaves_no_temporary(lib, cli, tmp_path):
    """The contract (README, Reliability): a job whose library is deleted under it has no record
    left to resume from; it stops at its next write or control check, removes its temporaries,
    and keeps what it finished; its runner stops too."""
    from conftest import wait_for

    src = tmp_path / "big"
    src.mkdir()
    (src / "a").write_bytes(os.urandom(200_000))
    (src / "f").write_bytes(os.urandom(4 << 20))
    r = cli("copy", "--detach", "--bwlimit", "512K", src, tmp_path / "d", env={"SDJOBS_RUNNER_IDLE_EXIT": "60"})
    assert r.returncode == 0, r.stderr
    wait_for(lambda: (tmp_path / "d" / "a").exists() and _temporaries(tmp_path / "d"), timeout=30,
             what="the copy to be in its second file")
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    with _nullcontext(Store(Library(lib))) as store:
        [runner] = [r.pid for r in store.runners(live_only=True)]
    for p in _library_files(lib):
        if not p.is_dir():
            p.unlink()
    wait_for(lambda: not _alive(runner), timeout=20, what="the runner of the deleted library to stop")
    assert _temporaries(tmp_path / "d") == []
    assert not (tmp_path / "d" / "f").exists()  # (never a part of it under its name)
    assert (tmp_path / "d" / "a").read_bytes() == (src / "a").read_bytes()  # what it finished stays
    log = (lib.parent / "library-data" / "runner.log").read_text()
    assert "stopped for good" in log and "was deleted or replaced; stopping" in log, log[-2000:]
