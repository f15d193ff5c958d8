"""The fan-out's own worker pool (runner/pool.py): a pipe per worker, driven from the map's thread.
Real forked workers; each test checks what a job would see: results in order, a worker's error
raised in the job with its traceback, chunks and results bigger than a pipe's buffer, no worker
left behind, and a worker's death as WorkerLost."""

import os
import signal
import threading

import pytest
from conftest import children, wait_for

from sdjobs.runner.fanout import FanOut, WorkerLost


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
