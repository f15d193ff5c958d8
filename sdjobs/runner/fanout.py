"""Fan-out: one job's work spread over worker processes.

Each job process forks its own pool lazily, on its first ``ctx.map``. How
many chunks run at once across *all* jobs of a runner is bounded by tokens
that the supervisor grants, highest job priority first (see ``gate``), so
jobs share the runner's N workers instead of each taking N.

A worker dies with its job process (``lifeline``). A worker that dies on its
own (the OOM killer's SIGKILL) takes the chunk it was running with it, which
``multiprocessing.Pool`` would wait for forever: the fan-out watches the
workers' sentinels and raises ``WorkerLost``, which ends the job process as
a crash, so that the job resumes from its last checkpoint.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import deque
from itertools import islice
from multiprocessing.connection import wait
from multiprocessing.pool import Pool
from typing import Any
from collections.abc import Callable, Iterable, Iterator

from ..core.errors import WorkerLost
from . import lifeline

POLL = 0.05  # seconds between looks at the workers while waiting for a result


def _init_worker(job_pid: int) -> None:
    lifeline.die_with_parent(job_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C and a hang-up are the supervisor's business
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _run_chunk(fn: Callable, chunk: list) -> list:
    return [fn(item) for item in chunk]


class GateClient:
    """The job process's end of the token protocol with the supervisor.

    The job says whether it is hungry (has chunks to run); the supervisor
    grants tokens to the hungry job of highest priority. A job keeps a token
    from one chunk to its next while it has work, and gives it back when it
    runs out of work or when the supervisor reclaims it for a job of higher
    priority (or for one of equal priority holding fewer). Because demand is
    standing, a token freed by a high-priority job goes back to it, not to
    whoever asked last.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.reclaim = 0  # tokens the supervisor asked back, not yet released
        self._send_lock = threading.Lock()

    def _send(self, msg: tuple) -> None:
        with self._send_lock:
            self.conn.send(msg)

    def hungry(self, want: int) -> None:
        """How many chunks this job could run at once now (0: none)."""
        self._send(("hungry", want))

    def release(self, n: int = 1) -> None:
        self.reclaim = max(0, self.reclaim - n)
        self._send(("release", n))

    def grants(self, timeout: float = 0.0) -> int:
        """Tokens granted since the last call (waits up to ``timeout`` for a message);
        requests to give tokens back are added up in ``reclaim``."""
        n = 0
        if self.conn.poll(timeout):
            while True:
                msg = self.conn.recv()
                if msg[0] == "grant":
                    n += 1
                elif msg[0] == "reclaim":
                    self.reclaim += msg[1]
                else:
                    raise AssertionError(msg)
                if not self.conn.poll():
                    break
        return n


class FanOut:
    def __init__(self, workers: int | None = None, gate: GateClient | None = None,
                 limit: Callable[[], int | None] | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.gate = gate
        self.limit = limit  # live per-job cap (max_workers setting)
        self._pool: Pool | None = None
        self._procs: list = []  # the pool's worker processes, as started (kept: their sentinels stay valid)

    def _get_pool(self) -> Pool:
        if self._pool is None:
            ctx = multiprocessing.get_context("fork")
            self._pool = ctx.Pool(self.workers, initializer=_init_worker, initargs=(os.getpid(),))
            # the pool replaces a dead worker; we must notice it (its list of workers is private)
            self._procs = list(self._pool._pool)  # type: ignore[attr-defined]
        return self._pool

    def _sentinels(self) -> list:
        return [p.sentinel for p in self._procs]

    def _check_workers(self) -> None:
        """Raise WorkerLost if a worker has died: its chunk will never come back."""
        for p in self._procs:
            code = p.exitcode
            if code is not None:
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                raise WorkerLost(f"a worker process died ({how}); the job resumes from its last checkpoint")

    def _cap(self) -> int:
        cap = self.workers
        if self.limit is not None:
            cap = max(1, min(cap, self.limit() or cap))
        return cap

    def map(self, fn: Callable, items: Iterable, chunksize: int = 64) -> Iterator:
        if self.workers == 1 and self.gate is None:
            for item in items:
                yield fn(item)
            return
        if self.gate is None:
            yield from self._map_free(fn, items, chunksize)
        else:
            yield from self._map_gated(fn, items, chunksize)

    def _map_free(self, fn: Callable, items: Iterable, chunksize: int) -> Iterator:
        pending: deque[Any]
        pool, it, pending = self._get_pool(), iter(items), deque()
        while True:
            while len(pending) < self._cap() * 2:
                chunk = list(islice(it, chunksize))
                if not chunk:
                    break
                pending.append(pool.apply_async(_run_chunk, (fn, chunk)))
            if not pending:
                return
            result = pending.popleft()
            while not result.ready():
                wait(self._sentinels(), POLL)
                self._check_workers()
            yield from result.get()

    def _map_gated(self, fn: Callable, items: Iterable, chunksize: int) -> Iterator:
        """Each chunk runs on a token; a token is kept for the next chunk (no round trip
        to the supervisor per chunk) until the work runs out or the supervisor reclaims it.
        The next chunk is taken from ``items`` ahead of time, so a worker that ends a
        chunk gets another as soon as this thread wakes, which a pipe makes immediate."""
        pool, it, gate = self._get_pool(), iter(items), self.gate
        assert gate is not None  # (gated)
        pending: deque[list] = deque()  # per chunk in order: [None] until [(ok, result or exception)]
        ended = [0]  # chunks ended since this thread last looked (counted by the pool's result thread)
        given = [0]  # of their tokens, those the result thread gave back itself
        # Out at the consumer (suspended at a yield) or over: a chunk that ends gives its token
        # back at once, as this thread cannot reuse it meanwhile.
        away = [False]
        closed = [False]
        lock = threading.Lock()
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)

        def submit(chunk: list) -> None:
            slot: list = [None]

            def finished(ok: bool, value: Any) -> None:
                slot[0] = (ok, value)
                with lock:
                    if closed[0]:
                        gate.release(1)
                        return
                    ended[0] += 1
                    if away[0]:
                        gate.release(1)
                        given[0] += 1
                    try:
                        os.write(wake_w, b"x")
                    except BlockingIOError:
                        pass  # full of wake-ups already

            pool.apply_async(_run_chunk, (fn, chunk), callback=lambda r: finished(True, r),
                             error_callback=lambda e: finished(False, e))
            pending.append(slot)

        held = running = 0
        upcoming: list | None = None  # the next chunk, taken before its token is there
        exhausted = False
        want = self._cap()
        gate.hungry(want)
        try:
            while True:
                with lock:
                    running -= ended[0]
                    held -= given[0]
                    ended[0] = given[0] = 0
                held += gate.grants(0.0)
                cap = self._cap()
                if not exhausted and cap != want:
                    want = cap  # max_workers changed while running
                    gate.hungry(want)
                if gate.reclaim and held > running:  # asked back: before this job reuses it
                    give = min(held - running, gate.reclaim)
                    gate.release(give)
                    held -= give
                while held > running and running < cap:
                    if upcoming is None and not exhausted:
                        upcoming = list(islice(it, chunksize)) or None
                        exhausted = upcoming is None
                    if upcoming is None:
                        break
                    submit(upcoming)
                    upcoming = None
                    running += 1
                if upcoming is None and not exhausted:
                    upcoming = list(islice(it, chunksize)) or None
                    exhausted = upcoming is None
                if exhausted and want:
                    want = 0
                    gate.hungry(0)
                keep = running if upcoming is None and exhausted else max(running, cap)
                if held > keep:  # no work for them, or more than max_workers now allows
                    gate.release(held - keep)
                    held = keep
                if pending and pending[0][0] is not None:
                    ok, value = pending.popleft()[0]
                    if not ok:
                        raise value
                    with lock:
                        away[0] = True
                    yield from value
                    with lock:
                        away[0] = False
                    continue
                if not pending and exhausted and upcoming is None:
                    return
                ready = wait([gate.conn, wake_r, *self._sentinels()], POLL)
                if wake_r in ready:
                    os.read(wake_r, 4096)
                self._check_workers()
        finally:
            with lock:
                closed[0] = True
                running -= ended[0]
                held -= given[0]
                os.close(wake_r)
                os.close(wake_w)
            if want:
                gate.hungry(0)
            if held > running:
                gate.release(held - running)

    def close(self) -> None:
        if self._pool is None:
            return
        if any(p.exitcode is not None for p in self._procs):
            # A worker killed while it waited for a task still holds the task queue's lock:
            # Pool.terminate() would wait for that lock forever. Kill the rest and leave the
            # pool's threads behind (daemons; this process is about to end as a crash).
            for p in {*self._procs, *self._pool._pool}:  # type: ignore[attr-defined]  # (private)
                if p.exitcode is None:
                    p.kill()
            # or the same wait would come at this process's exit (the finalizer is private)
            self._pool._terminate.cancel()  # type: ignore[attr-defined]
        else:
            self._pool.terminate()
            self._pool.join()
        self._pool = None
        self._procs = []
