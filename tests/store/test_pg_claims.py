"""Claims on PostgreSQL between real processes: ``FOR UPDATE SKIP LOCKED`` in the claim's
transaction, so that runners claiming at once never take one job twice; and the times of
claims and heartbeats are the database's, not the claiming host's clock."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent

CLAIMER = """
import json, random, sys, time
from sdjobs.core.status import Status
from sdjobs.store.open import open_store

url, seed, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rnd = random.Random(seed)
store = open_store(url)
runner = store.register_runner(4, "test")
while time.time() < start:  # every claimer starts at once
    time.sleep(0.001)
taken, empty = [], 0
while empty < 3:
    recs = store.claim(runner, rnd.randint(1, 3))
    empty = 0 if recs else empty + 1
    for rec in recs:
        taken.append([rec.id, rec.claim])
        store.finish(rec.id, Status.COMPLETED, claim=rec.claim)
print(json.dumps(taken))
"""


def _run(url: str, seed: int, start: float, prefix: list[str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([*(prefix or []), sys.executable, "-c", CLAIMER, url, str(seed), str(start)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("seed", [1, 2])
def test_concurrent_claimers_never_take_one_job_twice(postgres_url, seed):
    from sdjobs.store.open import open_store

    store = open_store(postgres_url)
    jobs = [store.submit("copy", 1, {"n": i}, priority=i % 3) for i in range(150)]
    start = time.time() + 1.5
    procs = [_run(postgres_url, seed * 10 + k, start) for k in range(4)]
    taken: list[tuple[int, int]] = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        taken += [tuple(t) for t in json.loads(out)]
    ids = [job_id for job_id, _ in taken]
    assert sorted(ids) == jobs, f"seed {seed}: claimed twice: {sorted({i for i in ids if ids.count(i) > 1})}"
    assert {claim for _, claim in taken} == {1}
    assert store.counts() == {"completed": len(jobs)}
    store.close()


def test_claim_and_heartbeat_times_are_the_databases(postgres_url):
    """A claimer whose clock is two days ahead (faketime) stamps its claim and heartbeat with
    the database's time: another host's lease is judged by one clock."""
    if shutil.which("faketime") is None:
        pytest.skip("faketime is not installed")
    from sdjobs.store.open import open_store

    store = open_store(postgres_url)
    job_id = store.submit("copy", 1, {})
    before = time.time()
    proc = _run(postgres_url, 0, 0, prefix=["faketime", "-f", "+2d"])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out) == [[job_id, 1]]
    rec = store.get(job_id)
    [runner] = store.runners(live_only=False)
    after = time.time()
    for what, stamp in (("started_at", rec.started_at), ("runner.heartbeat_at", runner.heartbeat_at),
                        ("runner.started_at", runner.started_at)):
        assert before - 1 <= stamp <= after + 1, f"{what} {stamp} is not the database's time ({before}..{after})"
    store.close()


JUDGE = """
import json, sys
from sdjobs.store.open import open_store
store = open_store(sys.argv[1])
alive = [r.host for r in store.runners()]
print(json.dumps([alive, store.recover_orphans(other_hosts=True)]))
"""


def test_another_hosts_lease_is_judged_by_the_databases_clock(postgres_url):
    """A runner on another host heartbeats (by the database's clock); a client whose clock is
    an hour ahead must not take it for dead and interrupt its jobs."""
    if shutil.which("faketime") is None:
        pytest.skip("faketime is not installed")
    import psycopg

    from sdjobs.store.open import open_store

    store = open_store(postgres_url)
    job_id = store.submit("copy", 1, {})
    with psycopg.connect(postgres_url) as db:  # a runner of another host, as its own store would register it
        [(runner_id,)] = db.execute(
            "INSERT INTO runner (pid, host, started_at, heartbeat_at, workers, mode) VALUES"
            " (1, 'elsewhere', extract(epoch FROM now()), extract(epoch FROM now()), 1, 'background')"
            " RETURNING id").fetchall()
    [rec] = store.claim(runner_id, 1)
    proc = subprocess.run(["faketime", "-f", "+1h", sys.executable, "-c", JUDGE, postgres_url], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    alive, recovered = json.loads(proc.stdout)
    assert alive == ["elsewhere"] and recovered == []
    assert store.get(job_id).status == "running" and store.get(job_id).claim == rec.claim
    store.close()


def test_the_stores_clock_follows_the_databases(postgres_url):
    import psycopg

    from sdjobs.store.open import open_store

    store = open_store(postgres_url)
    with psycopg.connect(postgres_url) as db:
        for _ in range(3):
            before = db.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0]
            mine = store._now()
            after = db.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0]
            assert before - 0.05 <= mine <= after + 0.05
            time.sleep(0.2)
    store.close()
