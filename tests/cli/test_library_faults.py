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
    one_line_error(sdjobs("-L", "/dev/null", "jobs", "ls"), 2, "/dev/null", "not a regular file")


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
    one_line_error(sdjobs("-L", other, "jobs", "ls", prefix=NO_CAPS), 2, str(other), "permission denied")
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chown(ro, 65534, 65534)
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
    with open(small_tmpfs / "fill", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    proc = sdjobs("-L", db, "copy", tmp_path / "src", tmp_path / "dst", env={"SDJOBS_RUNNER_IDLE_EXIT": "1"})
    one_line_error(proc, 1, "library disk is full", str(db))
    assert not (tmp_path / "dst").exists()
