"""Fencing at the store: every write of a running job is conditioned on the claim it runs
under; a process of an earlier claim writes nothing and is told to stop (LeaseLost)."""

import os
import sqlite3

import pytest

from sdjobs.core.errors import LeaseLost
from sdjobs.core.status import Status
from sdjobs.runner.fanout import FanOut
from sdjobs.runner.host import execute, run_claimed
from sdjobs.store import schema


def claim_twice(store, job):
    """Claim ``job``, lose it (its runner declared dead), claim it again: both records."""
    first = store.claim(1, 1)[0]
    assert first.id == job
    assert store.finish(job, Status.INTERRUPTED, runner_id=1)
    store.requeue_interrupted()
    second = store.claim(2, 1)[0]
    assert second.id == job and second.claim != first.claim
    return first, second


def snapshot(store, job):
    rec = store.get(job)
    return (rec.status, rec.runner_id, rec.bytes_done, rec.items_done, rec.warnings, rec.errors,
            rec.progress.to_dict(), store.read_checkpoint(job), rec.pid, len(store.events(job)), rec.children)


def test_every_write_of_an_earlier_claim_raises_and_records_nothing(store):
    job = store.submit("test-steps", 1, {})
    first, second = claim_twice(store, job)
    store.write(job, {"phase": "now"}, {"bytes": 5, "items": 1, "warnings": 0, "errors": 0},
                [(1.0, "log", None, "second run")], (b"state-2", 1), claim=second.claim)
    before = snapshot(store, job)
    metrics = {"bytes": 999, "items": 99, "warnings": 9, "errors": 9}
    stale = [
        lambda: store.write(job, {"phase": "stale"}, metrics, [(1.0, "error", "/x", "stale")], (b"stale", 1),
                            claim=first.claim),
        lambda: store.write(job, None, metrics, [], None, claim=first.claim),
        lambda: store.log(job, "stale", claim=first.claim),
        lambda: store.set_pid(job, 12345, first.claim),
        lambda: store.finish(job, Status.COMPLETED, claim=first.claim, output={"x": 1}),
        lambda: store.finish(job, Status.PAUSED, runner_id=2, claim=first.claim),
        lambda: store.submit("test-steps", 1, {}, parent_id=job, parent_claim=first.claim),
        lambda: store.read_control(job, claim=first.claim),
        lambda: store.check_claim(job, first.claim),
    ]
    for i, write in enumerate(stale):
        with pytest.raises(LeaseLost):
            write()
        assert snapshot(store, job) == before, f"stale write {i} changed the record"
    # the current claim still writes
    store.log(job, "fine", claim=second.claim)
    store.set_pid(job, os.getpid(), second.claim)
    assert store.read_control(job, claim=second.claim) is None
    assert store.finish(job, Status.COMPLETED, claim=second.claim)
    # and once finished, even the current claim can write no more
    with pytest.raises(LeaseLost):
        store.write(job, None, metrics, [], None, claim=second.claim)


def test_a_job_process_of_an_earlier_claim_stops_at_its_first_write_and_records_nothing(store, tmp_path):
    marker = tmp_path / "marker"
    job = store.submit("test-steps", 1, {"steps": 5, "delay": 0, "marker": str(marker)})
    first, second = claim_twice(store, job)
    before = snapshot(store, job)
    assert execute(store, first, 1, FanOut(1)) is None
    assert snapshot(store, job) == before
    assert not marker.exists(), "the stale run did work"
    assert execute(store, second, 2, FanOut(1)) is Status.COMPLETED
    assert marker.read_text().split() == ["0", "1", "2", "3", "4"]


def test_a_job_processs_pid_and_its_claimed_event_are_one_write(store, lib):
    """A job process that fails to record its `claimed` event (here a trigger of the library's
    aborts it) leaves no pid either: the record never names a process its log does not."""
    job = store.submit("test-steps", 1, {"steps": 1, "delay": 0})
    rec = store.claim(1, 1)[0]
    store._sql("CREATE TRIGGER no_claimed BEFORE INSERT ON job_event WHEN NEW.kind = 'claimed'"
               " BEGIN SELECT RAISE(ABORT, 'injected: no claimed event'); END")
    with pytest.raises(Exception, match="injected"):
        run_claimed(str(lib), job, rec.claim, 1, os.getpid(), FanOut(1))
    assert store.get(job).pid is None and not store.events(job, kinds=["claimed"])
    store._sql("DROP TRIGGER no_claimed")
    run_claimed(str(lib), job, rec.claim, 1, os.getpid(), FanOut(1))
    claimed = store.events(job, kinds=["claimed"])
    assert [e.fields["pid"] for e in claimed] == [os.getpid()]
    assert store.job_status(job) == "completed"  # (its pid cleared as it finished)


def test_a_crash_of_an_earlier_claim_is_not_counted(store):
    job = store.submit("test-steps", 1, {})
    first, second = claim_twice(store, job)
    store.crashed(job, first.claim, "its process died (signal 9)")
    rec = store.get(job)
    assert rec.status == "running" and rec.attempts == 0
    store.crashed(job, second.claim, "its process died (signal 9)")
    rec = store.get(job)
    assert rec.status == "queued" and rec.attempts == 1


def test_a_library_of_the_previous_schema_gains_the_claim_and_keeps_its_jobs(tmp_path):
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library
    from sdjobs.store.schema import core

    path = tmp_path / "lib" / "library.db"
    path.parent.mkdir()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for stmt in schema._statements(core.MIGRATIONS[0]):
        conn.execute(stmt)
    conn.execute("INSERT INTO schema_version VALUES ('core', 1)")
    conn.execute("INSERT INTO job (type, status, created_at, attempts) VALUES ('test-steps', 'paused', 1, 2)")
    conn.execute("INSERT INTO job_event (job_id, ts, kind, message) VALUES (1, 1, 'error', 'old')")
    conn.close()
    store = Store(Library(path))
    try:
        rec = store.get(1)
        assert rec.status == "paused" and rec.claim == 0 and rec.attempts == 1  # 2 starts: 1 crash at most
        assert [e.message for e in store.events(1)] == ["old"]
        store.set_status(1, Status.QUEUED, only_from=("paused",))
        assert store.claim(1, 1)[0].claim == 1
    finally:
        store.close()


def test_a_pause_asked_of_a_job_that_then_crashes_is_not_lost(store):
    paused, cancelled, plain = (store.submit("test-steps", 1, {}) for _ in range(3))
    recs = {r.id: r for r in store.claim(1, 3)}
    assert store.set_control(paused, "pause") and store.set_control(cancelled, "cancel")
    for job in (paused, cancelled, plain):
        store.crashed(job, recs[job].claim, "its process died (signal 9)")
    got = {job: (store.get(job).status, store.get(job).control) for job in (paused, cancelled, plain)}
    assert got == {paused: ("paused", None), cancelled: ("queued", "cancel"), plain: ("queued", None)}
    assert store.get(paused).paused_at is not None
    assert all(store.get(job).attempts == 1 for job in got)
