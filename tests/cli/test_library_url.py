"""A library named by a URL sdjobs does not know is refused in one line, before anything is
created: taken as a path, ``mysql://host/db`` would become a folder ``mysql:`` with a SQLite
library in it. A postgresql:// URL names a PostgreSQL library: one that cannot be reached is
one line too, and nothing is made of it here (tests/store/test_pg_cli.py runs one that can)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdjobs.core.errors import BadInput
from sdjobs.store.libpath import check_not_url

ROOT = Path(__file__).parent.parent.parent
POSTGRES = "cannot use the library postgres"  # (psycopg, the test extra, is installed)
COMMANDS = [["jobs", "ls"], ["copy", "/etc/hostname", "dst"], ["locations"], ["runner", "--idle-exit", "1"],
            ["runner", "status"]]


def sdjobs(tmp_path: Path, *args: str, library: str | None = None) -> subprocess.CompletedProcess:
    """The CLI run from an empty folder, with no library but ``library`` named anywhere."""
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "SDJOBS_LIBRARY"}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg-data"), XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
               HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT), NO_COLOR="1")
    if library is not None:
        env["SDJOBS_LIBRARY"] = library
    return subprocess.run([sys.executable, "-m", "sdjobs", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def created(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.name != "cwd")


CASES = ([(args, "--library", "postgresql://sdjobs:s3cret@/jobs?host=/nonexistent-sdjobs", POSTGRES)
          for args in COMMANDS]
         + [(args, "SDJOBS_LIBRARY", "mysql://root@localhost/jobs", "unknown library scheme 'mysql'")
            for args in COMMANDS]
         + [(["jobs", "ls"], "SDJOBS_LIBRARY", "postgres://sdjobs:s3cret@/jobs?host=/nonexistent-sdjobs&sslmode=disable",
             POSTGRES)])


@pytest.mark.parametrize("args, where, url, message", CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_a_url_library_is_refused_in_one_line_and_nothing_is_created(tmp_path, args, where, url, message):
    if where == "--library":
        proc = sdjobs(tmp_path, "--library", url, *args)
    else:
        proc = sdjobs(tmp_path, *args, library=url)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert "s3cret" not in proc.stderr  # a URL may hold a password: not echoed
    made = created(tmp_path)
    if message == POSTGRES and args[0] == "runner":  # a runner makes its folder of this host's before it connects
        made = [p for p in made if not p.startswith("xdg-data")]
    assert made == []


def test_a_path_library_beats_a_url_in_the_environment(tmp_path):
    lib = tmp_path / "lib.db"
    proc = sdjobs(tmp_path, "--library", str(lib), "jobs", "ls", library="postgresql://sdjobs@/jobs?host=/nonexistent")
    assert proc.returncode == 0, proc.stderr
    assert lib.exists()


@pytest.mark.parametrize("raw", ["HTTP+S.x-1://h", "file:///tmp/lib.db", "pg://"])
def test_any_scheme_is_refused(raw):
    with pytest.raises(BadInput, match="unknown library scheme"):
        check_not_url(raw)


@pytest.mark.parametrize("raw", ["postgresql://h/db", "postgres://u:p@h:5433/db?sslmode=require", "PostgreSQL://h/db",
                                 "lib.db", "C:/lib.db", "dir/x://y", "./postgresql://h/db", "1pg://x", "my lib://x",
                                 "a:b://c", "é://x", "://x", "postgresql:/x"])
def test_what_is_not_a_scheme_stays_a_path(raw):
    check_not_url(raw)
