"""The fan-out's own worker pool (runner/pool.py): a pipe per worker, driven from the map's thread.
Real forked workers; each test checks what a job would see: results in order, a worker's error
raised in the job with its traceback, chunks and results bigger than a pipe's buffer, no worker
left behind, and a worker's death as WorkerLost."""

import os
import signal
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from conftest import children, wait_for

from sdjobs.runner.fanout import FanOut, WorkerLost
from sdjobs.runner.pool import QUEUE_BYTES


def double(x):
    return 2 * x


def pid_of(_x):
    return os.getpid()


def fail_on_seven(x):
    if x == 7:
        raise ValueError(f"no {x}")
    return x


def unpicklable(_x):
    return threading.Lock()


def echo(blob):
    return blob[::-1]


def stall(x):
    if x == 0:
        signal.pause()
    return x


def test_results_come_in_order_from_every_worker():
    fan = FanOut(2)
    try:
        assert list(fan.map(double, range(1000), chunksize=7)) == [2 * x for x in range(1000)]
        pids = set(fan.map(pid_of, range(64), chunksize=1))
    finally:
        fan.close()
    assert len(pids) == 2 and os.getpid() not in pids


def test_a_workers_error_is_raised_in_the_job_with_the_workers_traceback():
    fan = FanOut(2)
    try:
        with pytest.raises(ValueError, match="no 7") as err:
            list(fan.map(fail_on_seven, range(20), chunksize=2))
        assert "fail_on_seven" in str(err.value.__cause__), "the worker's traceback"
        assert list(fan.map(double, range(10), chunksize=2)) == [2 * x for x in range(10)], "the pool still works"
    finally:
        fan.close()


def test_a_result_that_cannot_be_pickled_is_an_error_not_a_hang():
    fan = FanOut(2)
    try:
        with pytest.raises(Exception, match="(?i)pickle|lock"):
            list(fan.map(unpicklable, range(4), chunksize=1))
    finally:
        fan.close()


def test_chunks_and_results_bigger_than_a_pipe_go_both_ways():
    blobs = [bytes([i]) * (3 << 20) + bytes(range(256)) for i in range(6)]  # 3 MiB each: 50 pipe buffers
    fan = FanOut(2)
    try:
        assert list(fan.map(echo, blobs, chunksize=1)) == [b[::-1] for b in blobs]
    finally:
        fan.close()


def test_close_leaves_no_worker_behind_even_one_in_the_middle_of_a_chunk():
    fan = FanOut(2)
    it = fan.map(stall, [1, 2, 0, 3], chunksize=1)  # the chunk of 0 never ends by itself
    assert next(it) == 1
    assert len(children(os.getpid())) == 2
    it.close()
    fan.close()
    wait_for(lambda: children(os.getpid()) == [], what="the workers gone", timeout=10)


def test_a_worker_killed_in_the_middle_of_a_chunk_is_worker_lost():
    fan = FanOut(2)
    try:
        it = fan.map(stall, [1, 2, 0, 3, 4], chunksize=1)
        assert next(it) == 1
        for pid in children(os.getpid()):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerLost, match="signal 9"):
            list(it)
    finally:
        fan.close()


def sized(item):
    """Sleeps a little, then answers ``size`` bytes (an item: (index, payload, size, sleep))."""
    index, _payload, size, pause = item
    if pause:
        time.sleep(pause)
    return index, bytes([index % 251]) * size


@settings(max_examples=25, deadline=None)
@given(items=st.lists(st.tuples(st.sampled_from([0, 100, QUEUE_BYTES - 64, QUEUE_BYTES + 1, 3 * QUEUE_BYTES]),
                                st.sampled_from([0, 10, 300_000, 1 << 20]),
                                st.sampled_from([0, 0, 0.002])), min_size=2, max_size=24),
       chunksize=st.sampled_from([1, 2, 3]))
def test_chunks_queued_behind_running_ones_come_back_whole_and_in_order(items, chunksize):
    """Chunks queued behind busy workers (those that pickle small written at once, the bigger
    ones when the worker's result is read), with results bigger than a pipe's buffer either
    way: every result, in order, and no hang (the pipes never fill both ways at once)."""
    print(f"replay: items={items} chunksize={chunksize}")
    work = [(i, b"p" * payload, size, pause) for i, (payload, size, pause) in enumerate(items)]
    fan = FanOut(2)
    signal.alarm(60)  # a deadlock fails the test instead of hanging the suite
    try:
        got = list(fan.map(sized, work, chunksize=chunksize))
    finally:
        signal.alarm(0)
        fan.close()
    assert got == [(i, bytes([i % 251]) * size) for i, (_p, size, _s) in enumerate(items)]


def started_at(x):
    start = time.monotonic()
    time.sleep(0.3 if x == 1 else 0.05)
    return x, start


def test_a_worker_goes_on_with_its_queued_chunk_while_the_job_is_busy_elsewhere():
    """The next chunk is queued behind each running one: while the map's consumer is away with
    the first result, the worker that runs the long chunk 1 starts chunk 3, queued behind it,
    as soon as 1 ends (it used to wait for the consumer to come back, read its result and
    send it another)."""
    fan = FanOut(2)
    try:
        it = fan.map(started_at, range(8), chunksize=1)
        assert next(it)[0] == 0
        away = time.monotonic()
        time.sleep(0.6)  # the consumer is away: nothing reads or sends meanwhile
        starts = dict(it)
    finally:
        fan.close()
    assert sorted(starts) == list(range(1, 8))
    assert starts[3] - away < 0.45, f"chunk 3 started {starts[3] - away:.2f} s into the consumer's 0.6 s away"
