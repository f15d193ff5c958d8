"""Fan-out tokens between a job's FanOut and the supervisor's Gate, over real pipes and a real pool."""

from __future__ import annotations

import threading
import time
from multiprocessing import Pipe
from multiprocessing.connection import wait

from sdjobs.runner.fanout import FanOut, GateClient
from sdjobs.runner.gate import Gate


def drain(conn) -> list:
    out = []
    while conn.poll(0.2):
        out.append(conn.recv())
    return out


def test_a_waiting_job_of_higher_priority_gets_the_tokens_back():
    gate = Gate(2)
    low_sup, low_job = Pipe()
    gate.join(1, low_sup, priority=0)
    low_job.send(("hungry", 2))
    gate.handle(1)
    assert drain(low_job) == [("grant",), ("grant",)]

    high_sup, high_job = Pipe()
    gate.join(2, high_sup, priority=5)
    high_job.send(("hungry", 2))
    gate.handle(2)
    assert drain(low_job) == [("reclaim", 1)]  # one at a time: each release is granted to the best waiting job
    assert drain(high_job) == []
    low_job.send(("release", 1))
    gate.handle(1)
    assert drain(high_job) == [("grant",)]
    assert drain(low_job) == [("reclaim", 1)]
    low_job.send(("release", 1))
    gate.handle(1)
    assert drain(high_job) == [("grant",)]
    assert drain(low_job) == []


def test_jobs_of_equal_priority_share_the_tokens():
    gate = Gate(2)
    first_sup, first_job = Pipe()
    gate.join(1, first_sup, priority=0)
    first_job.send(("hungry", 2))
    gate.handle(1)
    assert len(drain(first_job)) == 2
    second_sup, second_job = Pipe()
    gate.join(2, second_sup, priority=0)
    second_job.send(("hungry", 2))
    gate.handle(2)
    assert drain(first_job) == [("reclaim", 1)]
    first_job.send(("release", 1))
    gate.handle(1)
    assert drain(second_job) == [("grant",)]
    assert drain(first_job) == []  # one each: nothing more to take back


class Recording:
    """The supervisor's end of a job's pipe, keeping what the job sends."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.seen: list = []
        self.sent: list = []

    def recv(self):
        msg = self.conn.recv()
        self.seen.append(msg)
        return msg

    def send(self, msg) -> None:
        self.sent.append(msg)
        self.conn.send(msg)


class Supervisor(threading.Thread):
    """The gate side in a thread, as the runner's loop does it."""

    def __init__(self, tokens: int) -> None:
        super().__init__(daemon=True)
        self.gate = Gate(tokens)
        self.ends: dict = {}
        self.seen: dict[int, list] = {}
        self.sent: dict[int, list] = {}
        self.lock = threading.Lock()
        self.stop = False

    def join_job(self, job_id: int, priority: int):
        sup_end, job_end = Pipe()
        rec = Recording(sup_end)
        with self.lock:
            self.gate.join(job_id, rec, priority)
            self.ends[sup_end] = job_id
            self.seen[job_id] = rec.seen
            self.sent[job_id] = rec.sent
        return job_end

    def run(self) -> None:
        while not self.stop:
            with self.lock:
                ends = list(self.ends)
            for end in wait(ends, 0.02):
                with self.lock:
                    if not self.gate.handle(self.ends[end]):
                        del self.ends[end]


def _square(x: int) -> int:
    return x * x


def _slow(x: int) -> int:
    time.sleep(0.02)
    return x


def test_a_job_keeps_its_tokens_from_chunk_to_chunk():
    sup = Supervisor(2)
    conn = sup.join_job(1, 0)
    sup.start()
    fanout = FanOut(2, GateClient(conn))
    try:
        assert list(fanout.map(_square, range(400), chunksize=4)) == [x * x for x in range(400)]
    finally:
        fanout.close()
        released = lambda: sum(m[1] for m in sup.seen[1] if m[0] == "release")  # noqa: E731
        granted = lambda: sup.sent[1].count(("grant",))  # noqa: E731
        deadline = time.monotonic() + 10  # the supervisor thread reads the releases at its own pace
        while released() < granted() and time.monotonic() < deadline:
            time.sleep(0.02)
        sup.stop = True
    assert granted() >= 1
    assert released() == granted(), "every token granted comes back"
    # a job that let a token go may ask again; 100 chunks must not cost a round trip each
    assert granted() <= 4, f"{granted()} grants for 100 chunks"


def test_a_reclaimed_token_goes_to_the_job_that_waits_before_the_first_is_done():
    sup = Supervisor(2)
    low = sup.join_job(1, 0)
    sup.start()
    fanout = FanOut(2, GateClient(low))
    high = sup.join_job(2, 5)
    granted_at = None
    try:
        for i, _ in enumerate(fanout.map(_slow, range(60), chunksize=1)):
            if i == 4:
                high.send(("hungry", 1))
            if granted_at is None and high.poll():
                assert high.recv() == ("grant",)
                granted_at = i
    finally:
        fanout.close()
        sup.stop = True
    assert granted_at is not None and granted_at < 50, granted_at
    assert any(m == ("release", 1) for m in sup.seen[1])


def test_a_chunk_that_ends_while_the_consumer_is_busy_gives_its_token_back():
    sup = Supervisor(2)
    low = sup.join_job(1, 0)
    sup.start()
    fanout = FanOut(2, GateClient(low))
    high = sup.join_job(2, 5)
    try:
        for i, _ in enumerate(fanout.map(_slow, range(10), chunksize=1)):
            if i == 0:  # the job's thread is out here, so it cannot hand the token to its next chunk
                high.send(("hungry", 1))
                assert high.poll(10), "a token stayed idle with a job whose consumer is busy"
                assert high.recv() == ("grant",)
    finally:
        fanout.close()
        sup.stop = True


def _slow_or_lock(x):
    time.sleep(0.02)
    return x


def test_a_queued_chunk_that_cannot_be_pickled_fails_in_order_and_every_token_comes_back():
    """Chunks queued behind running ones run on those chunks' tokens: one that cannot even be
    pickled is raised by the map in its turn, after the results before it, and no token is
    counted twice or kept (released == granted once the map is over)."""
    sup = Supervisor(2)
    conn = sup.join_job(1, 0)
    sup.start()
    fanout = FanOut(2, GateClient(conn))
    items: list = list(range(12))
    items[5] = threading.Lock()  # chunk 5 of 1 item: queued behind a running chunk, and unpicklable
    got = []
    try:
        try:
            for x in fanout.map(_slow_or_lock, items, chunksize=1):
                got.append(x)
            raise AssertionError("the unpicklable chunk was not raised")
        except TypeError as exc:
            assert "pickle" in str(exc) or "lock" in str(exc)
        assert got == [0, 1, 2, 3, 4]
        # the map goes on; long enough for the chunks the failed map left running to end meanwhile
        # (their tokens go back as they end; a FanOut closed before that kills them, and the
        # runner takes back a job process's tokens when it exits)
        assert list(fanout.map(_slow, range(20), chunksize=1)) == list(range(20)), "the map goes on"
    finally:
        fanout.close()
        released = lambda: sum(m[1] for m in sup.seen[1] if m[0] == "release")  # noqa: E731
        granted = lambda: sup.sent[1].count(("grant",))  # noqa: E731
        deadline = time.monotonic() + 10
        while released() < granted() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # (a release counted twice would come after)
        sup.stop = True
    assert released() == granted(), f"{released()} released for {granted()} granted: {sup.seen[1]}"
