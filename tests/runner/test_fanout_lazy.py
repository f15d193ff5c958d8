"""The fan-out forks its pool only once a map has a second chunk (unless a spare job process
forked it ahead: runner/spare.py): no pool for no item, and one chunk runs in the job's own
thread, as a worker would run it (copies in, copies out). A job whose one chunk runs there is
paused, cancelled and resumed like any other."""

import os
import pickle

import pytest
from conftest import children, submit, wait_for

from sdjobs.runner.fanout import FanOut


def where(item):
    item["seen"] = True  # a worker's change to its copy never reaches the job's object
    return item["n"] * 2, os.getpid()


def test_no_item_forks_no_pool():
    fan = FanOut(2)
    try:
        assert list(fan.map(where, iter([]), chunksize=4)) == []
        assert fan._pool is None
    finally:
        fan.close()


def test_one_chunk_runs_here_on_copies_and_forks_no_pool():
    fan = FanOut(2)
    items = [{"n": n} for n in range(4)]
    try:
        out = list(fan.map(where, iter(items), chunksize=4))
        assert fan._pool is None
    finally:
        fan.close()
    assert [v for v, _ in out] == [0, 2, 4, 6]
    assert {pid for _, pid in out} == {os.getpid()}
    assert all("seen" not in item for item in items)


def test_what_a_worker_could_not_be_sent_fails_here_too():
    fan = FanOut(2)
    try:
        with pytest.raises((pickle.PicklingError, AttributeError)):
            list(fan.map(lambda x: x, [1], chunksize=4))
        with pytest.raises(ZeroDivisionError):
            list(fan.map(_divide, [1, 0], chunksize=4))
    finally:
        fan.close()


def _divide(x):
    return 1 / x


def test_a_second_chunk_forks_the_pool_and_keeps_the_order():
    fan = FanOut(2)
    items = [{"n": n} for n in range(9)]
    try:
        out = list(fan.map(where, iter(items), chunksize=4))
        assert fan._pool is not None
    finally:
        fan.close()
    assert [v for v, _ in out] == [2 * n for n in range(9)]
    assert os.getpid() not in {pid for _, pid in out}


def test_a_one_chunk_job_is_paused_resumed_and_cancelled(store, cli, start_runner):
    """(Run in a spare job process, runner/spare.py, its workers are forked already: the chunk
    runs in one of them; in a job process forked for it, here, as the tests above show.)"""
    start_runner("--workers", "2")
    job = submit(store, "test-fan", {"n": 4, "delay": 0.5, "chunk": 10})  # one chunk of 2 s
    wait_for(lambda: store.get(job).pid, what="the job process")
    cli("jobs", "pause", job, check=True)
    wait_for(lambda: store.get(job).status == "paused", what="paused")
    cli("jobs", "resume", job, check=True)
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    rec = store.get(job)
    assert rec.status == "completed" and rec.output == {"sum": 0 + 1 + 4 + 9, "workers": 1}, rec.output

    other = submit(store, "test-fan", {"n": 4, "delay": 0.5, "chunk": 10})
    wait_for(lambda: store.get(other).pid, what="the job process")
    cli("jobs", "cancel", other, check=True)
    wait_for(lambda: store.get(other).status == "cancelled", what="cancelled")


def test_a_two_chunk_job_still_fans_out(store, start_runner):
    start_runner("--workers", "2")
    job = submit(store, "test-fan", {"n": 4, "delay": 0.5, "chunk": 2})
    pid = wait_for(lambda: store.get(job).pid, what="the job process")
    wait_for(lambda: len(children(pid)) == 2, what="two workers")
    wait_for(lambda: store.get(job).status == "completed", what="completed")
    assert store.get(job).output["sum"] == 14
