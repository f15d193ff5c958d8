"""Result rows in the store: the verbs, fencing, and rows that survive crashes at any point exactly once."""

from __future__ import annotations

import os
import random

import pytest

from sdjobs.core import context as engine
from sdjobs.core.context import JobContext
from sdjobs.core.errors import LeaseLost
from sdjobs.runner.backend import StoreBackend
from sdjobs.runner.fanout import FanOut
from sdjobs.store import results


@pytest.fixture(autouse=True)
def no_runner_left(store):
    """This process registers as a runner to claim jobs: not one to stop at the end (conftest)."""
    yield
    for r in store.runners(live_only=False):
        store.unregister_runner(r.id)


def running(store, runner=None) -> tuple[int, int, int]:
    """(job id, claim, runner id) of a test-rows job claimed by a runner."""
    runner = runner or store.register_runner(1, "test")
    job = store.submit("test-rows", 1, {})
    rec = store.claim(runner, 1)[0]
    return job, rec.claim, runner


def context(store, job, claim) -> JobContext:
    return JobContext(job, 1, StoreBackend(store, job, 0, FanOut(1), claim=claim))


def test_verbs_filter_stream_and_name_the_rows(store):
    job, claim, _ = running(store)
    rows = [{"n": i, "size": i * 10, "severity": ("info", "warning", "error", "critical")[i % 4],
             "path": "/x/\udcff" if i == 5 else f"/x/{i}"} for i in range(40)]
    results.append(store, job, map(results.keyed, rows[:25]), start=0, columns=("n", "size"), claim=claim)
    results.append(store, job, map(results.keyed, rows[25:]), start=25, columns=("size", "severity", "path"),
                   name="issues")
    assert results.name(store, job) == "issues"
    assert results.columns(store, job) == ["n", "size", "severity", "path"]
    assert list(results.rows(store, job)) == rows  # a name that is not UTF-8 comes back as it went in
    assert results.count(store, job) == 40
    assert [r["n"] for r in results.rows(store, job, min_size=355)] == [36, 37, 38, 39]
    assert {r["severity"] for r in results.rows(store, job, severity="error")} == {"error", "critical"}
    assert results.count(store, job, severity="critical", min_size=200) == 5
    assert results.count(store, job, severity="mine") == 0  # a severity of its own matches only itself
    assert results.truncate(store, job, 30, claim=claim) == 6  # of rows 30..39: error or critical
    assert [r["n"] for r in results.rows(store, job)] == list(range(30))
    assert results.truncate(store, job, 0) == 14 and results.name(store, job) is None


def test_a_process_whose_claim_was_taken_writes_no_rows(store):
    job, claim, runner = running(store)
    results.append(store, job, [('{"n":0}', None, None)], start=0, claim=claim)
    store.crashed(job, claim, "test")  # queued again ...
    store.claim(runner, 1)  # ... and claimed by another process: a new claim
    with pytest.raises(LeaseLost):
        results.append(store, job, [('{"n":1}', None, None)], start=1, claim=claim)
    with pytest.raises(LeaseLost):
        results.truncate(store, job, 0, claim=claim)
    assert results.count(store, job) == 1


def test_rows_are_stored_once_whatever_the_crash_points(store):
    """A job emits rows and checkpoints at random; its process dies at random points (what
    was written stays, what was buffered is lost) and a new one resumes from the checkpoint.
    The result is each row once, in order, and the errors counted are the error rows."""
    seed = int(os.environ.get("SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    total = 3000
    job, claim, runner = running(store)
    for attempt in range(12):
        ctx = context(store, job, claim)
        if store.read_checkpoint(job)[0] is not None:  # as the engine does (runner/host.py)
            engine.restore_metrics(ctx, {"errors": store.get(job).errors})
        state = ctx.load_state() or {"i": 0}
        die = total if attempt == 11 else rng.randrange(state["i"], total + 1)
        for i in range(state["i"], die):
            ctx.emit({"n": i, "severity": "error" if i % 100 == 7 else "info"})
            if rng.random() < 0.02:
                state["i"] = i + 1
                ctx.checkpoint(state, force=rng.random() < 0.5)
            if rng.random() < 0.01:
                engine.flush(ctx)
        if die == total:
            engine.flush(ctx)
            break
        if rng.random() < 0.5:
            engine.flush(ctx)  # a pause: everything written; else a SIGKILL: the buffer is lost
        store.crashed(job, claim, "test")
        store._sql("UPDATE job SET attempts=0 WHERE id=?", (job,))
        claim = store.claim(runner, 1)[0].claim
    assert [r["n"] for r in results.rows(store, job)] == list(range(total)), f"seed {seed}"
    assert store.get(job).errors == total // 100, f"seed {seed}"


def test_a_fresh_start_drops_the_rows_of_an_earlier_run(store):
    """retry --from-scratch, or a crash before the first checkpoint: the rows start again."""
    job, claim, runner = running(store)
    ctx = context(store, job, claim)
    for i in range(7):
        ctx.emit({"n": i})
    engine.flush(ctx)
    store.crashed(job, claim, "test")
    claim = store.claim(runner, 1)[0].claim
    ctx = context(store, job, claim)
    assert ctx.load_state() is None
    ctx.emit({"n": 0})
    engine.flush(ctx)
    assert [r["n"] for r in results.rows(store, job)] == [0]


def test_an_empty_result_is_stored_as_empty(store):
    job, claim, _ = running(store)
    ctx = context(store, job, claim)
    ctx.result_columns("severity", "path", name="issues")
    engine.flush(ctx)
    assert results.name(store, job) == "issues" and results.count(store, job) == 0
    assert results.columns(store, job) == ["severity", "path"]
    other, _, _ = running(store)
    assert results.name(store, other) is None and list(results.rows(store, other)) == []


def test_pages_and_filters_across_chunks(store, monkeypatch):
    monkeypatch.setattr(results, "CHUNK_ROWS", 7)
    job, claim, _ = running(store)
    rows = [{"n": i, "size": i if i % 3 else None, "severity": "error" if i % 5 == 0 else "info"} for i in range(100)]
    for a in range(0, 100, 33):  # uneven appends: chunks of 7 and shorter ones
        results.append(store, job, [results.keyed(r) for r in rows[a:a + 33]], start=a, claim=claim)
    rng = random.Random(3)
    for _ in range(60):
        offset, limit = rng.randrange(0, 110), rng.choice([None, 0, 1, 5, 13, 200])
        min_size, severity = rng.choice([None, None, 40]), rng.choice([None, None, "error"])
        want = [r for r in rows if (min_size is None or (r["size"] is not None and r["size"] >= min_size))
                and (severity is None or r["severity"] == "error")]
        want = want[offset:None if limit is None else offset + limit]
        got = list(results.rows(store, job, min_size=min_size, severity=severity, offset=offset, limit=limit))
        assert got == want, (offset, limit, min_size, severity)
    assert results.count(store, job, min_size=40, severity="error") == 8  # 40 (no size: 45, 60, 75, 90), 50 ... 95
    assert results.truncate(store, job, 52) == 9  # 55, 60, ..., 95
    assert [r["n"] for r in results.rows(store, job, offset=45)] == list(range(45, 52))


def test_rows_given_over_several_lines_are_stored_on_one(store):
    job, claim, _ = running(store)
    pretty = '{\n  "n": 1,\n  "name": "a\\nb"\n}'
    results.append(store, job, [(pretty, None, None), ('{"n":2}', None, None)], start=0, claim=claim)
    assert list(results.rows(store, job)) == [{"n": 1, "name": "a\nb"}, {"n": 2}]
    assert list(results.texts(store, job)) == ['{"n":1,"name":"a\\nb"}', '{"n":2}']
