"""Child jobs with real runners: waiting without a worker, pause and cancel reach children,
the parent's progress includes theirs, failures, and SIGKILL while the parent waits."""

from __future__ import annotations

import time

import pytest
from conftest import wait_for


@pytest.fixture(autouse=True)
def compose_jobs(lib, monkeypatch):
    monkeypatch.setenv("SDJOBS_PLUGINS", "testjobs,composejobs")


def submit_parent(store, **config) -> int:
    return store.submit("test-parent", 1, config, context={"argv": ["sdjobs", "run", "test-parent"]})


def steps(marker) -> list[int]:
    try:
        return [int(x) for x in open(marker).read().split() if x.isdigit()]
    except FileNotFoundError:
        return []


def waiting(store, job):
    rec = store.get(job)
    return rec if rec.status == "queued" and rec.wait_children else None


def test_parent_waits_without_a_worker_and_shows_its_childrens_progress(store, cli, start_runner, tmp_path):
    marker, gate = tmp_path / "parent", tmp_path / "gate"
    # the children wait at their 4th step for the gate: the first one holds there while the test looks
    parent = submit_parent(store, children=2, child_steps=8, child_delay=0.02, marker=str(marker), child_hold_at=3,
                           child_gate=str(gate))
    start_runner("--workers", "1")  # one worker: a parent holding it while it waits would deadlock
    rec = wait_for(lambda: waiting(store, parent), what="the parent waiting for its children")
    assert len(rec.children) == 2
    wait_for(lambda: (store.get(rec.children[0]).progress.done or 0) >= 3, what="a child's progress")
    kids = store.get(parent).progress.fields["children"]
    assert kids["total"] == 2 and kids["finished"] == 0 and kids["statuses"] == {"running": 1, "queued": 1}
    assert 0 < kids["percent"] < 50
    shown = cli.json("jobs", "show", str(parent))
    assert shown["progress"]["fields"]["children"]["total"] == 2
    assert shown["progress"]["phase"] == "waiting for children"
    assert shown["progress"]["total"] == 2 and shown["progress"]["unit"] == "children"
    listed = {j["id"]: j for j in cli.json("jobs", "ls")}
    assert listed[parent]["progress"]["fields"]["children"]["total"] == 2
    assert all(listed[k]["parent_id"] == parent for k in rec.children)
    human = cli("jobs", "ls", check=True).stdout
    assert "waiting for children" in human and "/2 children" in human
    gate.touch()

    assert cli("jobs", "wait", parent, timeout=60).returncode == 0
    done = store.get(parent)
    assert done.output == {"children": 2}
    assert open(marker).read() == "run\nrun\n"  # suspended once, then restarted from its checkpoint
    assert done.progress.fields["children"] == {"total": 2, "finished": 2, "statuses": {"completed": 2},
                                                "percent": 100.0, "bytes": 0, "items": 0}
    assert "2/2 finished (2 completed)" in cli("jobs", "show", parent, check=True).stdout
    for i, kid in enumerate(done.children):
        assert store.get(kid).status == "completed"
        assert steps(f"{marker}.{i}") == list(range(8))


def test_pausing_a_parent_pauses_its_children_and_resuming_continues_them(store, cli, start_runner, tmp_path):
    marker = tmp_path / "parent"
    parent = submit_parent(store, children=2, child_steps=40, child_delay=0.03, marker=str(marker))
    start_runner("--workers", "2")
    rec = wait_for(lambda: waiting(store, parent), what="the parent waiting")
    wait_for(lambda: all(len(steps(f"{marker}.{i}")) >= 3 for i in range(2)), what="children running")
    cli("jobs", "pause", parent, check=True)
    wait_for(lambda: all(store.get(j).status == "paused" for j in [parent, *rec.children]), timeout=10,
             what="parent and children paused")
    frozen = [len(steps(f"{marker}.{i}")) for i in range(2)]
    assert all(n < 40 for n in frozen)
    time.sleep(0.6)
    assert [len(steps(f"{marker}.{i}")) for i in range(2)] == frozen, "a paused child made progress"
    assert store.get(parent).progress.fields["children"]["statuses"] == {"paused": 2}

    cli("jobs", "resume", parent, check=True)
    assert cli("jobs", "wait", parent, timeout=60).returncode == 0
    for i in range(2):
        assert steps(f"{marker}.{i}") == list(range(40)), "a child skipped or repeated steps"


def test_cancelling_a_parent_cancels_its_children(store, cli, start_runner, tmp_path):
    marker = tmp_path / "parent"
    parent = submit_parent(store, children=2, child_steps=200, child_delay=0.02, marker=str(marker))
    start_runner("--workers", "2")
    rec = wait_for(lambda: waiting(store, parent), what="the parent waiting")
    wait_for(lambda: len(steps(f"{marker}.0")) >= 2, what="a child running")
    cli("jobs", "cancel", parent, check=True)
    wait_for(lambda: all(store.get(j).status == "cancelled" for j in [parent, *rec.children]), timeout=10,
             what="everything cancelled")
    assert "cancelled" in open(f"{marker}.0").read()  # the running child ran its cleanup
    assert cli("jobs", "wait", parent).returncode == 1


def test_a_failed_child_is_seen_by_its_parent(store, cli, start_runner, tmp_path):
    parent = submit_parent(store, children=2, child_steps=5, child_delay=0.0, child_fail_at=2)
    start_runner("--workers", "2", "--exit-when-idle")
    assert cli("jobs", "wait", parent, timeout=60).returncode == 1
    rec = store.get(parent)
    first, second = rec.children
    assert store.get(first).status == "failed" and store.get(second).status == "completed"
    assert rec.status == "failed" and rec.error == f"child job {first} failed"
    assert rec.progress.fields["children"]["statuses"] == {"failed": 1, "completed": 1}


def test_sigkill_while_the_parent_waits_resumes_children_and_never_spawns_twice(store, cli, start_runner, tmp_path):
    marker = tmp_path / "parent"
    parent = submit_parent(store, children=2, child_steps=40, child_delay=0.03, marker=str(marker))
    runner = start_runner("--workers", "2")
    wait_for(lambda: waiting(store, parent), what="the parent waiting")
    wait_for(lambda: all(len(steps(f"{marker}.{i}")) >= 5 for i in range(2)), what="children running")
    runner.kill_group()
    start_runner("--workers", "2")
    assert cli("jobs", "wait", parent, timeout=60).returncode == 0
    rec = store.get(parent)
    assert len(rec.children) == 2 and rec.output == {"children": 2}
    assert store._sql("SELECT COUNT(*) FROM job").fetchone()[0] == 3
    for i in range(2):
        done = steps(f"{marker}.{i}")
        assert sorted(set(done)) == list(range(40)) and len(done) - 40 <= 1
