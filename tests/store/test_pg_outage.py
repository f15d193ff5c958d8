"""A PostgreSQL library out of reach for a while (the server restarting, a network cut) while
a runner copies: the runner waits for it instead of dying, the job either waits too or gives
up and resumes from its checkpoint, no attempt is counted, and the copy is exact.

The outage is made in the database: connections refused (``ALLOW_CONNECTIONS false``) and
every session of the library ended (``pg_terminate_backend``), then allowed again; the
shared test cluster keeps serving the other tests' databases meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).parent.parent.parent


def _env(tmp_path: Path, url: str, patience: float) -> dict:
    return {**os.environ, "SDJOBS_LIBRARY": url, "XDG_DATA_HOME": str(tmp_path / "xdg"), "SDJOBS_HOST": "t",
            "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "SDJOBS_OUTAGE_PATIENCE": str(patience)}


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    code = "import sys\nsys.argv = ['sdjobs', *sys.argv[1:]]\nfrom sdjobs.cli.launch import run\nrun()"
    return subprocess.run([sys.executable, "-c", code, *args], env={**env, "SDJOBS_CLI_SERVER": "0"},
                          capture_output=True, text=True, timeout=120)


def _outage(url: str, seconds: float) -> None:
    """No connection to the library's database for ``seconds``, every session of it ended."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin_url = os.environ["SDJOBS_TEST_POSTGRES"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:  # (a session that was connecting as it began is ended too)
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND usename = current_user", (name,))
                time.sleep(0.2)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def _job(url: str, job_id: int):
    from sdjobs.store.open import open_store

    store = open_store(url)
    try:
        return store.get(job_id), [e.message for e in store.events(job_id, kinds=["interrupted"])]
    finally:
        store.close()


@pytest.mark.parametrize("patience, outage", [(60, 5), (1, 5)], ids=["job-waits", "job-gives-up"])
def test_a_runner_and_its_copy_wait_out_a_library_out_of_reach(tmp_path, postgres_url, patience, outage):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        (src / f"f{i}.bin").write_bytes(os.urandom(400_000))
    env = _env(tmp_path, postgres_url, patience)
    runner = subprocess.Popen([sys.executable, "-m", "sdjobs", "runner", "--quiet"], env=env, cwd=tmp_path,
                              stderr=subprocess.PIPE, text=True)
    try:
        proc = _cli(env, "copy", "--detach", "--bwlimit", "600k", str(src), str(tmp_path / "dst"))
        assert proc.returncode == 0, proc.stderr
        job_id = int(proc.stdout.split()[-1])
        deadline = time.monotonic() + 30
        while _job(postgres_url, job_id)[0].bytes_done < 300_000:  # running, and past a first checkpoint
            assert time.monotonic() < deadline, "the copy did not start"
            time.sleep(0.2)
        _outage(postgres_url, outage)
        assert runner.poll() is None, f"the runner died while its library was out of reach: {runner.communicate()[1]}"
        proc = _cli(env, "jobs", "wait", str(job_id), "--timeout", "90")
        rec, interrupted = _job(postgres_url, job_id)
        assert rec.status == "completed", (rec.status, rec.error, proc.stdout, proc.stderr)
        assert rec.attempts == 0, f"an outage was counted as a crash: {interrupted}"
        if patience < outage:  # the job process gave up, and its job was taken up again
            assert any("gave up waiting for the library" in m for m in interrupted), interrupted
        oracle = subprocess.run(["rsync", "-anci", "--delete", f"{src}/", f"{tmp_path / 'dst'}/"],
                                capture_output=True, text=True, check=True)
        assert oracle.stdout == "", oracle.stdout  # exact copy
        assert runner.poll() is None
    finally:
        runner.terminate()
        _, err = runner.communicate(timeout=60)
    assert "waiting for it" in err and "the library is back" in err, err
