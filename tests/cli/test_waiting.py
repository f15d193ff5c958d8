"""A job that waits says why, in `jobs ls`, `jobs show` and its log: never "running 0%"."""

from __future__ import annotations

import pytest

from conftest import submit, wait_for


@pytest.fixture(autouse=True)
def compose_jobs(lib, monkeypatch):
    monkeypatch.setenv("SDJOBS_PLUGINS", "testjobs,composejobs")


def row(listing: str, job: int) -> str:
    return next(line for line in listing.splitlines() if line.split()[:1] == [str(job)])


def test_queued_jobs_say_what_they_wait_for(cli, store, start_runner):
    start_runner("--workers", "1")
    busy = submit(store, "test-steps", {"steps": 400, "delay": 0.05})
    wait_for(lambda: store.get(busy).status == "running", what="the first job to run")
    queued = submit(store, "test-steps", {"steps": 1, "delay": 0})
    after = store.submit("test-steps", 1, {"steps": 1, "delay": 0}, after=[queued], context={"argv": ["t"]})
    listing = cli("jobs", "ls", check=True).stdout
    assert f"waiting for a worker (held by #{busy})" in row(listing, queued), listing
    assert f"after #{queued}" in row(listing, after), listing
    assert "0%" not in row(listing, queued)
    shown = cli.json("jobs", "show", str(queued))
    assert shown["waiting"] == f"waiting for a worker (held by #{busy})"
    assert {j["id"]: j["waiting"] for j in cli.json("jobs", "ls")}[after] == f"after #{queued}"
    assert f"runs after #{queued}" in cli("jobs", "logs", after, check=True).stdout
    cli("jobs", "cancel", busy, check=True)
    assert cli("jobs", "wait", after, timeout=60).returncode == 0
    assert cli.json("jobs", "show", str(after))["waiting"] is None


def test_a_parent_says_it_waits_for_its_children(cli, store, start_runner):
    start_runner("--workers", "1")
    parent = store.submit("test-parent", 1, {"children": 2, "child_steps": 40, "child_delay": 0.04},
                          context={"argv": ["sdjobs", "run", "test-parent"]})
    wait_for(lambda: store.get(parent).wait_children, what="the parent to wait")
    assert cli.json("jobs", "show", str(parent))["waiting"] == "waiting for 2 children"
    assert "waiting for 2 children" in cli("jobs", "logs", parent, check=True).stdout
    assert cli("jobs", "wait", parent, timeout=60).returncode == 0


def test_a_running_job_without_a_fanout_token_waits_for_a_worker(cli, store, start_runner):
    start_runner("--workers", "2")
    high = submit(store, "test-fan", {"n": 4000, "delay": 0.01, "chunk": 10}, priority=5)
    wait_for(lambda: store.get(high).status == "running", what="the first job to run")
    low = submit(store, "test-fan", {"n": 40, "delay": 0.01, "chunk": 10}, priority=0)
    wait_for(lambda: cli.json("jobs", "show", str(low))["waiting"], timeout=30, what="the low job to wait")
    assert store.get(low).status == "running"
    assert cli.json("jobs", "show", str(low))["waiting"] == f"waiting for a worker (held by #{high})"
    assert f"waiting for a worker (held by #{high})" in row(cli("jobs", "ls", check=True).stdout, low)
    cli("jobs", "cancel", high, check=True)
    assert cli("jobs", "wait", low, timeout=60).returncode == 0
