"""A copy that will never resume leaves no temporary file behind: not when it crashed its last
attempt (nobody of its own is left to clean up), and not when its record is pruned (the name of
its temporaries goes with the record)."""

from __future__ import annotations

import os
import signal

from conftest import wait_for

from sdjobs.core import codec
from sdjobs.fs import copyfile as cf
from sdjobs.store.api import Store
from sdjobs.store.library import Library


def _temporaries(root) -> list[str]:
    return [os.path.join(d, n) for d, _, names in os.walk(root) for n in names if ".sdjobs-" in n]


def _row(lib, job_id):
    store = Store(Library(lib))
    try:
        return store.get(job_id)
    finally:
        store.close()


def test_a_copy_that_crashed_its_last_attempt_leaves_no_temporary_and_prune_orphans_none(lib, cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(os.urandom(4 << 20))
    dst = tmp_path / "d"
    r = cli("copy", "--detach", "--bwlimit", "512K", src, dst, env={"SDJOBS_RUNNER_IDLE_EXIT": "60"})
    assert r.returncode == 0, r.stderr
    job = int(r.stdout.split()[0])
    killed: set[int] = set()
    for _ in range(3):  # max_attempts: each SIGKILL of its process is a crash
        def running_with_a_part():
            rec = _row(lib, job)
            return rec.pid if rec.status == "running" and rec.pid and rec.pid not in killed \
                and _temporaries(dst) else None
        pid = wait_for(running_with_a_part, timeout=30, what="the copy to write its temporary")
        os.kill(pid, signal.SIGKILL)
        killed.add(pid)
        wait_for(lambda pid=pid: _row(lib, job).pid != pid, timeout=30, what="the crash to be recorded")
    rec = wait_for(lambda: (r := _row(lib, job)).status == "failed" and r, timeout=30, what="the job to fail")
    assert "3 times" in rec.error
    wait_for(lambda: not _temporaries(dst), timeout=30, what="the failed copy's temporary to be removed")

    # A temporary of it that outlived its clean-up (its runner died first, say): prune removes it
    # with the record that names it, never leaves it behind for good.
    store = Store(Library(lib))
    try:
        token = codec.unpack(store.read_checkpoint(job)[0])["token"]
    finally:
        store.close()
    left = dst / cf.temp_name(token)
    left.write_bytes(b"x" * 1000)
    r = cli("jobs", "prune", "--older-than", "0s", check=True)
    assert "pruned 1 job\n" in r.stdout
    assert not left.exists()


def test_prune_refuses_rather_than_orphan_what_it_cannot_clean(lib, cli, store):
    """A failed job whose type is not installed here: its temporaries cannot be found, so the
    record that names them is not pruned (one line, exit 1), nor any other."""
    import sqlite3

    job = store.submit("not-installed-here", 1, {"x": 1}, context={"argv": ["test"]})
    done = store.submit("not-installed-here", 1, {"x": 2}, context={"argv": ["test"]})
    with sqlite3.connect(lib) as conn:
        conn.execute("UPDATE job SET status='failed', finished_at=1, state=?, state_version=1 WHERE id=?",
                     (codec.pack({"token": "abcd"}), job))
        conn.execute("UPDATE job SET status='completed', finished_at=1 WHERE id=?", (done,))
    r = cli("jobs", "prune", "--older-than", "0s")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "not pruned" in lines[0] and f"job {job}" in lines[0], r.stderr
    assert {x.id for x in store.list_jobs()} == {job, done}
