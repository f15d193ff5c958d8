"""Hosts in the store (issue 18): which runner takes which job, and recovery across hosts.

The host of this process is ``$SDJOBS_HOST`` (core/hostid.py): each test plays host a or b by
setting it, on one real SQLite library.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from sdjobs.core.errors import BadInput
from sdjobs.core.status import Status
from sdjobs.store import schema
from sdjobs.store.api import Store
from sdjobs.store.library import Library


@pytest.fixture
def as_host(monkeypatch, store):
    def play(name: str) -> None:
        monkeypatch.setenv("SDJOBS_HOST", name)
    yield play
    # the runners registered here are this very process (or dead ones): none is to be stopped
    store._sql("DELETE FROM runner")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def job(store: Store, host: str | None = None, **kw) -> int:
    return store.submit("test-steps", 1, {}, context={"argv": ["test"]}, host=host, **kw)


def test_a_runner_takes_its_hosts_jobs_and_any_jobs_only(store, as_host):
    as_host("a")
    mine, anyone = job(store), job(store, "any")
    theirs = job(store, "b")
    assert store.get(mine).host == "a" and store.get(theirs).host == "b"
    runner_a = store.register_runner(4, "test")
    assert sorted(r.id for r in store.claim(runner_a, 10)) == [mine, anyone]
    assert not store.has_runnable(), "b's job is not runnable for a's runner"
    as_host("b")
    assert store.has_runnable()
    assert [r.id for r in store.claim(store.register_runner(4, "test"), 10)] == [theirs]


def test_a_child_goes_where_its_parent_runs(store, as_host):
    as_host("a")
    parent = job(store, "b")
    assert store.get(job(store, parent_id=parent)).host == "b"
    shared = job(store, "any")
    assert store.get(job(store, parent_id=shared)).host == "any"


def test_a_job_sent_to_a_name_not_seen_yet_is_taken_by_the_host_of_that_name(store, as_host, monkeypatch):
    """`--on NAME` before that host's runner ever ran: the job keeps the name, and the runner of
    the host of that name (whose id is its machine id) takes it."""
    import socket

    from sdjobs.core.hostid import this_host

    monkeypatch.delenv("SDJOBS_HOST", raising=False)
    name = socket.gethostname()
    assert this_host() != name, "this test needs a machine id (/etc/machine-id)"
    assert store.resolve_host(name) is None
    waiting = job(store, name)
    assert store.waiting([store.get(waiting)])[waiting] == f"waiting for a runner on host {name}"
    runner = store.register_runner(1, "test")
    assert store.resolve_host(name) == this_host()
    assert [r.id for r in store.claim(runner, 5)] == [waiting]


def test_two_hosts_of_one_name_are_named_by_id(store, as_host):
    with store._transaction():
        from sdjobs.store import hosts

        hosts.register(store, 1.0, "id1", "twin", [])
        hosts.register(store, 1.0, "id2", "twin", [])
    with pytest.raises(BadInput, match="2 hosts are named so"):
        store.resolve_host("twin")
    assert store.resolve_host("id2") == "id2" and store.resolve_host("any") == "any"


def test_a_runner_records_its_host_and_mounts(store, as_host):
    as_host("a")
    runner = store.register_runner(1, "test")
    [host] = store.hosts()
    assert (host.id, host.name) == ("a", "a")
    assert ["/", "ext4"] == host.mounts[0][:2] or any(m[0] == "/" for m in host.mounts), host.mounts
    assert store.runners()[0].host == "a"
    first = host.last_seen
    time.sleep(0.01)
    store.heartbeat(runner, [], 0)
    assert store.hosts()[0].last_seen > first


def _stale_runner(store: Store, host: str, lease_ago: float = 120.0) -> int:
    """A runner of ``host`` whose last heartbeat is older than the lease (its host went silent)."""
    then = time.time() - lease_ago
    return store._sql("INSERT INTO runner (pid, host, started_at, heartbeat_at, workers) VALUES (?,?,?,?,1)",
                      (dead_pid(), host, then, then)).lastrowid


@pytest.fixture
def short_lease(monkeypatch):
    monkeypatch.setattr("sdjobs.store.api.LEASE_SECONDS", 0.2)
    monkeypatch.setattr("sdjobs.store.leases.LEASE_SECONDS", 0.2)
    return 0.2


def test_a_silent_hosts_jobs_are_interrupted_and_wait_for_their_host(store, as_host, short_lease):
    """Host a's runner sees b's runner silent for a lease: b's running jobs become
    interrupted and stay so for a; b's runner queues them again when it is back. A job for
    any runner is queued again by a's runner (recovered anywhere)."""
    as_host("b")
    b_job, any_job = job(store), job(store, "any")
    b_runner = _stale_runner(store, "b")
    assert sorted(r.id for r in store.claim(b_runner, 5)) == [b_job, any_job]
    as_host("a")
    assert store.recover_orphans() == [], "a client (not a runner) does not judge other hosts"
    assert store.recover_orphans(other_hosts=True) == [], "a runner watches a lease before it judges"
    time.sleep(short_lease + 0.1)
    assert sorted(store.recover_orphans(other_hosts=True)) == [b_job, any_job]
    assert store.requeue_interrupted() == 1
    assert store.job_status(b_job) == "interrupted" and store.job_status(any_job) == "queued"
    assert store.waiting([store.get(b_job)]) == {b_job: "waiting for a runner on host b"}
    runner_a = store.register_runner(2, "test")
    assert [r.id for r in store.claim(runner_a, 5)] == [any_job]
    as_host("b")
    assert store.requeue_interrupted() == 1 and store.job_status(b_job) == "queued"
    assert [r.id for r in store.claim(store.register_runner(1, "test"), 5)] == [b_job]
    rec = store.get(b_job)
    assert rec.attempts == 1 and rec.claim == 2
    lost = store.last_event(b_job, "interrupted")
    assert lost is not None and lost.fields["reason"] == "lease-lost"
    assert "has not heartbeated for over 0.2 s" in lost.message, lost.message


def test_a_remote_runner_that_heartbeats_keeps_its_jobs_whatever_its_clock(store, as_host, short_lease):
    """b's clock lags 2 minutes behind a's: its heartbeats look old to a, but they change, so b
    is alive. (Judged by a's clock against b's, a would take b's lease at once.)"""
    as_host("b")
    b_job = job(store)
    b_runner = _stale_runner(store, "b", lease_ago=120)
    store.claim(b_runner, 1)
    as_host("a")
    for _ in range(4):
        assert store.recover_orphans(other_hosts=True) == []
        time.sleep(short_lease / 2)
        store._sql("UPDATE runner SET heartbeat_at=heartbeat_at+0.1 WHERE id=?", (b_runner,))  # b heartbeats
    assert store.job_status(b_job) == "running"


def test_jobs_queued_before_hosts_existed_run_anywhere(tmp_path, as_host):
    """A library of the schema before job.host (core v3): its jobs read as `any` and any
    host's runner takes them, as every runner did before."""
    path = tmp_path / "old" / "library.db"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    from sdjobs.store.schema import core

    for step in core.MIGRATIONS[:3]:
        if callable(step):
            step(conn)
        else:
            conn.executescript(step)
    conn.execute("INSERT INTO schema_version VALUES ('core', 3)")
    conn.execute("INSERT INTO job (type, status, created_at, action) VALUES ('test-steps', 'queued', 1.0, 'run')")
    conn.commit()
    conn.close()
    as_host("somewhere-else")
    store = Store(Library(path))
    try:
        assert schema.current_versions(store._db.connection())["hosts"] == 1
        assert store.get(1).host == "any"
        assert [r.id for r in store.claim(store.register_runner(1, "test"), 5)] == [1]
    finally:
        store._sql("DELETE FROM runner")  # (this process)
        store.close()


def test_ls_filters_by_host(store, as_host):
    as_host("a")
    ids = {h: job(store, h) for h in ("a", "b", "any")}
    assert [r.id for r in store.list_jobs(hosts=["b"])] == [ids["b"]]
    assert sorted(r.id for r in store.list_jobs(hosts=["a", "any"], limit=10)) == sorted([ids["a"], ids["any"]])


def test_a_cancel_from_another_host_leaves_the_clean_up_to_the_jobs_host(store, as_host, tmp_path):
    """A paused job of host b with a checkpoint, cancelled from a: its on_cancel must not run
    on a (its paths are b's); b's runner takes it, cleans up, and it ends cancelled."""
    from sdjobs.runner import control

    marker = tmp_path / "marker"
    as_host("b")
    paused = store.submit("test-steps", 1, {"marker": str(marker)}, context={"argv": ["test"]})
    store.set_status(paused, Status.PAUSED, only_from=("queued",))
    store._sql("UPDATE job SET state=?, state_version=1 WHERE id=?", (b"\x80", paused))
    as_host("a")
    assert control.cancel(store, paused).startswith("cancelling: host b's runner cleans up")
    assert not marker.exists(), "on_cancel ran on host a"
    rec = store.get(paused)
    assert (rec.status, rec.control) == ("queued", "cancel")
    as_host("b")
    [claimed] = store.claim(store.register_runner(1, "test"), 5)
    assert claimed.control == "cancel", "its run only cleans up"


def test_claims_by_runners_of_two_hosts_never_cross_hosts(tmp_path, as_host):
    """Generated: jobs for a, b, any and a name never seen, claimed in random turns by runners
    of a and b. Each job is claimed at most once, only by a runner that may take it; every job
    of a, b or any is claimed once none is left runnable (the unseen host's stay queued)."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    counter = iter(range(10**6))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(hosts_of_jobs=st.lists(st.sampled_from(["a", "b", "any", "ghost"]), min_size=1, max_size=12),
           turns=st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(1, 3)), min_size=1, max_size=10))
    def check(hosts_of_jobs, turns):
        store = Store(Library(tmp_path / f"gen{next(counter)}" / "library.db"))
        try:
            jobs = {job(store, h): h for h in hosts_of_jobs}
            runners: dict[str, int] = {}
            taken: dict[int, str] = {}
            for host, n in [*turns, ("a", 99), ("b", 99)]:  # then each drains what is left for it
                as_host(host)
                if host not in runners:
                    runners[host] = store.register_runner(4, "test")
                for rec in store.claim(runners[host], n):
                    assert rec.id not in taken, f"job {rec.id} claimed twice"
                    assert jobs[rec.id] in ("any", host), f"{host}'s runner took a job of {jobs[rec.id]}"
                    taken[rec.id] = host
            assert set(taken) == {j for j, h in jobs.items() if h != "ghost"}
            assert all(store.job_status(j) == "queued" for j, h in jobs.items() if h == "ghost")
        finally:
            store._sql("DELETE FROM runner")  # (this process)
            store.close()

    check()


def test_an_index_waits_only_for_index_jobs_of_its_own_host(store, as_host):
    """Another host's /data is another folder: its index job does not hold up this host's."""
    as_host("a")
    mine = store.submit("index", 1, {"path": "/data"}, context={"argv": ["index"]})
    anywhere = store.submit("index", 1, {"path": "/data/sub"}, context={"argv": ["index"]}, host="any")
    as_host("b")
    theirs = store.submit("index", 1, {"path": "/data"}, context={"argv": ["index"]})
    assert sorted(store.index_jobs_over("/data")) == [anywhere, theirs]
    as_host("a")
    assert sorted(store.index_jobs_over("/data")) == [mine, anywhere]
