"""The store interface: submit, claim, control, write, recover, prune, concurrency."""

import os
import stat
import subprocess
import sys
import time

from sdjobs.core.hostid import this_host
from sdjobs.core.status import Status
from sdjobs.runner import control


def test_library_is_private_and_versioned(store, lib):
    assert stat.S_IMODE(os.stat(lib).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(lib.parent).st_mode) == 0o700
    versions = dict(store._sql("SELECT component, version FROM schema_version").fetchall())
    assert versions["core"] >= 1


def test_claim_takes_priority_then_age_and_never_twice(store):
    low = store.submit("test-steps", 1, {}, priority=0)
    high = store.submit("test-steps", 1, {}, priority=5)
    old_mid = store.submit("test-steps", 1, {}, priority=2)
    new_mid = store.submit("test-steps", 1, {}, priority=2)
    first = store.claim(runner_id=1, n=3)
    assert [r.id for r in first] == [high, old_mid, new_mid]
    assert [r.id for r in store.claim(runner_id=2, n=5)] == [low]
    assert store.claim(runner_id=3, n=5) == []


def test_write_records_progress_metrics_events_and_checkpoint(store):
    job = store.submit("test-steps", 1, {"steps": 3})
    store.claim(1, 1)
    weird = b"/x/\xff".decode("utf-8", "surrogateescape")
    store.write(job, {"phase": "p", "done": 2, "total": 3}, {"bytes": 10, "items": 2, "warnings": 1, "errors": 1},
                [(time.time(), "error", weird, "boom"), (time.time(), "warning", None, "hmm")], (b"\x81\xa1a\x01", 1))
    rec = store.get(job)
    assert rec.progress.done == 2 and rec.bytes_done == 10 and rec.errors == 1
    assert store.read_checkpoint(job) == (b"\x81\xa1a\x01", 1)
    events = store.events(job, kinds=["error"])
    assert events[0].path == weird and events[0].message == "boom"


def test_pause_resume_cancel_of_jobs_that_are_not_running(store):
    job = store.submit("test-steps", 1, {})
    assert control.pause(store, job) == "paused"
    assert store.get(job).status == "paused"
    assert store.claim(1, 5) == []
    assert control.resume(store, job) == "queued to resume"
    assert control.cancel(store, job) == "cancelled"
    rec = store.get(job)
    assert rec.status == "cancelled" and rec.finished_at


def test_dependencies_hold_a_job_and_a_failed_dependency_fails_it(store):
    first = store.submit("test-steps", 1, {})
    second = store.submit("test-steps", 1, {}, after=[first])
    assert [r.id for r in store.claim(1, 5)] == [first]
    store.finish(first, Status.FAILED, runner_id=1, error="x")
    assert store.fail_dependents() == [second]
    rec = store.get(second)
    assert rec.status == "failed" and rec.error.startswith("dependency-failed")


def test_orphans_of_a_dead_runner_are_interrupted_then_failed_after_max_attempts(store):
    job = store.submit("test-steps", 1, {})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    rid = store._sql("INSERT INTO runner (pid, host, started_at, heartbeat_at, workers) VALUES (?,?,?,?,1)",
                    (dead.pid, this_host(), time.time(), time.time())).lastrowid
    store.claim(rid, 1)
    assert store.recover_orphans() == [job]
    assert store.get(job).status == "interrupted"
    store._sql("UPDATE job SET status='running', runner_id=?, attempts=3 WHERE id=?", (rid, job))
    store.recover_orphans()
    rec = store.get(job)
    assert rec.status == "failed" and "died" in rec.error


def test_prune_removes_old_history_only(store):
    old = store.submit("test-steps", 1, {})
    active = store.submit("test-steps", 1, {})
    store._sql("UPDATE job SET status='completed', finished_at=? WHERE id=?", (time.time() - 40 * 86400, old))
    assert store.prune(30 * 86400).jobs == 1
    assert [r.id for r in store.list_jobs()] == [active]


WRITER = r"""
import sys, random
from sdjobs.store.api import Store
from sdjobs.store.library import resolve
from sdjobs.runner import control
s = Store(resolve(sys.argv[1]))
for i in range(15):
    j = s.submit("test-steps", 1, {"steps": i})
    control.pause(s, j)
    s.list_jobs(recent=10)
    control.resume(s, j)
    s.claim(1000 + int(sys.argv[2]), 1)
print("ok")
"""


def test_twenty_processes_submitting_and_pausing_never_see_database_locked(lib, store):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(lib), str(i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(20)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
    assert store._sql("SELECT COUNT(*) FROM job").fetchone()[0] == 300
    claimed = store._sql("SELECT runner_id, COUNT(*) FROM job WHERE status='running' GROUP BY id").fetchall()
    assert all(n == 1 for _, n in claimed)


def test_a_name_that_is_not_utf8_in_a_message_or_failure_is_stored_escaped(store):
    """A message naming a file whose name is not UTF-8 (seen: a copy paused inside
    'caf\\xe9-dir' failed on resume with "surrogates not allowed" from its own log line)."""
    job = store.submit("test-steps", 1, {"steps": 3})
    rec = store.claim(1, 1)[0]
    weird = b"/x/caf\xe9-dir/big.bin".decode("utf-8", "surrogateescape")
    store.write(job, None, {"bytes": 0, "items": 0, "warnings": 1, "errors": 0},
                [(time.time(), "log", weird, f"resuming {weird} at byte 4096")], None, claim=rec.claim)
    store.log(job, f"copied {weird}", claim=rec.claim)
    store.finish(job, Status.FAILED, runner_id=1, claim=rec.claim, error=f"cannot read {weird}")
    messages = [e.message for e in store.events(job)]
    assert "resuming /x/caf\\xe9-dir/big.bin at byte 4096" in messages
    assert "copied /x/caf\\xe9-dir/big.bin" in messages
    assert store.events(job, kinds=["log"])[0].path == weird  # the path itself stays exact
    assert store.get(job).error == "cannot read /x/caf\\xe9-dir/big.bin"
