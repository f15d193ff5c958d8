"""A PostgreSQL library from the command line (issue 18): a copy job submitted and run by a
runner against a postgresql:// URL completes and is listed; what cannot be opened is said in
one line with exit 2 (a URL the driver refuses, a server out of reach, psycopg missing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).parent.parent.parent


def sdjobs(tmp_path: Path, *args: str, library: str, pre: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    """The CLI run from ``tmp_path/cwd`` with ``library`` in $SDJOBS_LIBRARY; ``pre``: Python run first."""
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    env = {**os.environ, "SDJOBS_LIBRARY": library, "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
           "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "PYTHONPATH": str(ROOT), "NO_COLOR": "1",
           "SDJOBS_RUNNER_IDLE_EXIT": "2"}
    code = f"{pre}\nimport sys\nsys.argv = ['sdjobs', *sys.argv[1:]]\nfrom sdjobs.cli.launch import run\nrun()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_a_copy_job_runs_on_a_postgresql_library(tmp_path, postgres_url):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"hello\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(70_000))
    try:
        proc = sdjobs(tmp_path, "copy", str(src), str(tmp_path / "dst"), library=postgres_url)
        assert proc.returncode == 0, proc.stderr
        oracle = subprocess.run(["rsync", "-anci", "--delete", f"{src}/", f"{tmp_path / 'dst'}/"],
                                capture_output=True, text=True, check=True)
        assert oracle.stdout == "", oracle.stdout  # rsync finds nothing to do: the copy is exact
        listed = json.loads(sdjobs(tmp_path, "jobs", "ls", "--json", library=postgres_url).stdout)
        assert [(j["type"], j["status"], j["items"]) for j in listed] == [("copy", "completed", 2)]
    finally:
        sdjobs(tmp_path, "runner", "stop", library=postgres_url)
    assert not (tmp_path / "cwd" / "postgresql:").exists()  # no SQLite library made of the URL


@pytest.mark.parametrize("url, words", [
    ("postgresql://sdjobs:s3cret@/jobs?host=/nonexistent-sdjobs", "/nonexistent-sdjobs/.s.PGSQL"),
    ("postgres://sdjobs:s3cret@/jobs?host=/tmp&bogus=1", 'invalid URI query parameter: "bogus"'),
])
@pytest.mark.parametrize("args", [["jobs", "ls"], ["copy", "/etc/hostname", "dst"], ["runner", "--idle-exit", "1"]],
                         ids=" ".join)
def test_a_library_that_cannot_be_opened_is_one_line_and_exit_2(tmp_path, url, words, args):
    pytest.importorskip("psycopg")
    proc = sdjobs(tmp_path, *args, library=url)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "cannot use the library" in proc.stderr and words in proc.stderr, \
        proc.stderr
    assert "s3cret" not in proc.stderr


def test_a_database_that_does_not_exist(tmp_path, postgres_url):
    url = postgres_url.replace("/sdjobs_test_", "/sdjobs_nope_", 1)
    proc = sdjobs(tmp_path, "jobs", "ls", library=url)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "does not exist" in proc.stderr, proc.stderr


@pytest.mark.parametrize("args", [["jobs", "ls"], ["copy", "/etc/hostname", "dst"]], ids=" ".join)
def test_without_psycopg_the_error_says_what_to_install(tmp_path, args):
    hide = "import sys\nfor m in ('psycopg', 'psycopg2', 'psycopg2cffi'): sys.modules[m] = None"
    proc = sdjobs(tmp_path, *args, library="postgresql://sdjobs:s3cret@db.example/jobs", pre=hide)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "psycopg is not installed: pip install 'sdjobs[postgres]'" in proc.stderr, proc.stderr
    assert "s3cret" not in proc.stderr


def test_a_password_in_the_url_is_not_recorded_with_the_job(tmp_path, postgres_url):
    """The submitting command is recorded (jobs ls, jobs logs): the URL's password is masked.
    (The test cluster trusts local connections, so any password is accepted.)"""
    url = postgres_url.replace("://sdjobs@", "://sdjobs:hunter2@", 1)
    assert "hunter2" in url
    (tmp_path / "src").mkdir()
    try:
        proc = sdjobs(tmp_path, "--library", url, "copy", str(tmp_path / "src"), str(tmp_path / "dst"),
                      library=postgres_url)
        assert proc.returncode == 0, proc.stderr
        listed = sdjobs(tmp_path, "jobs", "ls", "--json", library=url).stdout
        logs = sdjobs(tmp_path, "jobs", "logs", "1", library=url).stdout
        assert "sdjobs:***@" in listed and "hunter2" not in listed + logs
    finally:
        sdjobs(tmp_path, "runner", "stop", library=postgres_url)


@pytest.mark.parametrize("arg, masked", [
    ("postgresql://ann:s3cret@db/x?sslmode=require", "postgresql://ann:***@db/x?sslmode=require"),
    ("--library=postgres://bob:pw@h:5/d", "--library=postgres://bob:***@h:5/d"),
    ("postgresql://ann@h/db?password=pw&sslmode=require", "postgresql://ann@h/db?password=***&sslmode=require"),
    ("postgresql://ann@h/db", "postgresql://ann@h/db"),
    ("/data/postgres/a:b@c", "/data/postgres/a:b@c"),
])
def test_mask_argv_masks_a_url_password(arg, masked):
    from sdjobs.core.action import mask_argv

    assert mask_argv(["sdjobs", arg]) == ["sdjobs", masked]


def test_dupes_keeps_its_plan_in_the_local_data_folder_not_beside_the_url(tmp_path, postgres_url):
    """A result file is written in the library's data folder (this host's, for a PostgreSQL
    library): taken as a path, the URL put it under ``/postgresql:/...`` (a background
    runner works from /), outside anything the user named."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").write_bytes(b"same\n")
    (d / "b").write_bytes(b"same\n")
    name = urlsplit(postgres_url).path.lstrip("/")
    try:
        proc = sdjobs(tmp_path, "dupes", str(d), "--then", "hardlink", library=postgres_url)
        assert proc.returncode == 0, proc.stderr
        assert "would hard-link 1 file" in proc.stdout + proc.stderr
    finally:
        sdjobs(tmp_path, "runner", "stop", library=postgres_url)
    plans = list((tmp_path / "xdg-data" / "sdjobs" / "postgres").glob("*/results/dupes-1.json"))
    assert len(plans) == 1
    strays = [p for p in (Path("/postgresql:/sdjobs@"), tmp_path / "cwd" / "postgresql:") if p.exists()
              and any(name in str(q) for q in p.iterdir())]
    assert strays == []
