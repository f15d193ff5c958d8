"""The schema on PostgreSQL: made once however many processes open a new library at once (an
advisory lock), refused when a newer sdjobs made it, and the same versions as SQLite's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdjobs.store import schema
from sdjobs.store.libpath import data_dir_of, without_password

ROOT = Path(__file__).parent.parent.parent

OPENER = """
import sys, time
from sdjobs.store.open import open_store
url, start = sys.argv[1], float(sys.argv[2])
while time.time() < start:
    time.sleep(0.0005)
store = open_store(url)
print(store.submit("copy", 1, {}))
store.close()
"""


def versions(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as db:
        return dict(db.execute("SELECT component, version FROM schema_version").fetchall())


@pytest.mark.parametrize("run", range(3))
def test_processes_opening_a_new_library_at_once_make_its_schema_once(postgres_url, run):
    start = time.time() + 1.0
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, postgres_url, str(start)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(5)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, [err for _, err in outs]
    assert sorted(int(out) for out, _ in outs) == [1, 2, 3, 4, 5]
    from sdjobs.store.pg.schema import PG_MIGRATIONS

    assert versions(postgres_url) == {**schema.target_versions(), "postgres": len(PG_MIGRATIONS)}


def test_a_library_a_newer_sdjobs_made_is_refused(postgres_url, tmp_path):
    import psycopg

    from sdjobs.store.open import open_store

    open_store(postgres_url).close()
    with psycopg.connect(postgres_url) as db:
        db.execute("UPDATE schema_version SET version = version + 1 WHERE component = 'core'")
    proc = subprocess.run([sys.executable, "-m", "sdjobs", "--library", postgres_url, "jobs", "ls"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "XDG_DATA_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "newer than this sdjobs knows" in proc.stderr, proc.stderr


def test_the_local_folder_is_keyed_by_the_url_without_its_password(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    a = data_dir_of("postgresql://ann:one@db.example:5433/jobs?sslmode=require")
    b = data_dir_of("postgresql://ann:two@db.example:5433/jobs?sslmode=require")
    c = data_dir_of("postgresql://ann@db.example:5433/other?sslmode=require")
    d = data_dir_of("postgresql://ann@db.example/jobs?password=x&sslmode=require&port=5433")
    assert a == b != c and Path(a).parent == tmp_path / "sdjobs" / "postgres"
    assert d != a  # (another spelling is another key: the folder is this host's, not the library's)
    assert without_password("postgresql://ann:one@db.example/jobs?password=x&sslmode=require") == \
        "postgresql://ann@db.example/jobs?sslmode=require"


def test_kept_dupes_groups_live_in_the_local_data_folder(monkeypatch, tmp_path):
    from sdjobs.store.kept_groups import groups_dir

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    url = "postgresql://ann@db.example/jobs?sslmode=require"
    assert groups_dir(url) == Path(data_dir_of(url)) / "dupes-groups"
    assert groups_dir(tmp_path / "lib" / "my.library.db") == tmp_path / "lib" / "my.library-data" / "dupes-groups"


def test_delete_protects_a_postgresql_librarys_data_folder_not_its_url_taken_as_a_path(monkeypatch, tmp_path):
    """The URL is no file: taken as a path relative to the current folder, it made that folder
    (and its ancestors) look like they held the library, and refused to delete them."""
    from sdjobs.jobs.delete.removal import refusal

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    url = "postgresql://ann@db.example/jobs"
    data = data_dir_of(url)
    assert refusal(str(work), url, data) is None
    assert "the sdjobs library's data" in refusal(data, url, data)
    assert "the sdjobs library's data" in refusal(str(tmp_path / "xdg"), url, data)
    assert "the sdjobs library" in refusal(str(tmp_path / "dir"), str(tmp_path / "dir" / "x://y"), None)
