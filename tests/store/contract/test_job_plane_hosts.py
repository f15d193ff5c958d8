"""The job plane's contract for hosts (issue 18), through the verbs only, on every backend of
``job_plane_backends.py``: a runner claims, and queues again after an interruption, only the
jobs of its own host and those meant for any runner; a child goes where its parent goes.

The host of this process is ``$SDJOBS_HOST`` (core/hostid.py); each test plays a or b.
"""

from __future__ import annotations

import pytest
from job_plane_backends import BACKENDS

from sdjobs.core.status import Status

CFG = {"sources": ["/a"], "dest": "/b"}


@pytest.fixture(params=sorted(BACKENDS))
def job_plane(request, tmp_path):
    store = BACKENDS[request.param](tmp_path)
    runners: list[int] = []
    yield store, runners
    for r in runners:  # (this very process: unregistered, never stopped)
        store.unregister_runner(r)
    store.close()


@pytest.fixture
def as_host(monkeypatch):
    return lambda name: monkeypatch.setenv("SDJOBS_HOST", name)


def test_each_runner_takes_its_hosts_jobs_and_any(job_plane, as_host):
    store, runners = job_plane
    as_host("a")
    a_job, any_job = store.submit("copy", 1, CFG), store.submit("copy", 1, CFG, host="any")
    b_job = store.submit("copy", 1, CFG, host="b")
    assert [store.get(j).host for j in (a_job, any_job, b_job)] == ["a", "any", "b"]
    runners.append(store.register_runner(4, "test"))
    assert sorted(r.id for r in store.claim(runners[-1], 10)) == [a_job, any_job]
    assert store.has_runnable() is False
    as_host("b")
    assert store.has_runnable() is True
    runners.append(store.register_runner(4, "test"))
    assert [r.id for r in store.claim(runners[-1], 10)] == [b_job]
    assert {h.id for h in store.hosts()} == {"a", "b"}
    assert store.resolve_host("b") == "b" and store.resolve_host("c") is None
    assert [r.id for r in store.list_jobs(hosts=["b"])] == [b_job]


def test_a_child_goes_where_its_parent_goes(job_plane, as_host):
    store, _ = job_plane
    as_host("a")
    parent = store.submit("copy", 1, CFG, host="b")
    assert store.get(store.submit("copy", 1, CFG, parent_id=parent)).host == "b"


def test_interrupted_jobs_are_queued_again_by_their_hosts_runner_or_any(job_plane, as_host):
    store, runners = job_plane
    as_host("b")
    b_job, any_job = store.submit("copy", 1, CFG), store.submit("copy", 1, CFG, host="any")
    runners.append(store.register_runner(4, "test"))
    for rec in store.claim(runners[-1], 10):
        assert store.finish(rec.id, Status.INTERRUPTED, runner_id=runners[-1])
    as_host("a")
    assert store.requeue_interrupted() == 1
    assert (store.job_status(b_job), store.job_status(any_job)) == ("interrupted", "queued")
    as_host("b")
    assert store.requeue_interrupted() == 1 and store.job_status(b_job) == "queued"
