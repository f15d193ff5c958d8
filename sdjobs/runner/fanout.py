"""Fan-out: one job's work spread over worker processes.

Each job process forks its own pool lazily, on its first ``ctx.map``. How
many chunks run at once across *all* jobs of a runner is bounded by tokens
that the supervisor grants, highest job priority first (see ``gate``), so
jobs share the runner's N workers instead of each taking N.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import deque
from itertools import islice
from typing import Any, Callable, Iterable, Iterator


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's business


def _run_chunk(fn: Callable, chunk: list) -> list:
    return [fn(item) for item in chunk]


class GateClient:
    """The job process's end of the token protocol with the supervisor."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._send_lock = threading.Lock()

    def acquire(self) -> None:
        with self._send_lock:
            self.conn.send(("acquire",))
        msg = self.conn.recv()
        assert msg == ("grant",), msg

    def release(self) -> None:
        with self._send_lock:
            self.conn.send(("release",))


class FanOut:
    def __init__(self, workers: int | None = None, gate: GateClient | None = None,
                 limit: Callable[[], int | None] | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.gate = gate
        self.limit = limit  # live per-job cap (max_workers setting)
        self._pool = None

    def _get_pool(self):
        if self._pool is None:
            ctx = multiprocessing.get_context("fork")
            self._pool = ctx.Pool(self.workers, initializer=_init_worker)
        return self._pool

    def map(self, fn: Callable, items: Iterable, chunksize: int = 64, ordered: bool = True) -> Iterator:
        if self.workers == 1 and self.gate is None:
            for item in items:
                yield fn(item)
            return
        pool = self._get_pool()
        it = iter(items)
        pending: deque = deque()
        exhausted = False
        # Chunks running in the pool right now; the per-job cap (max_workers) bounds this,
        # not merely the queue, so a cap of 1 really means one worker at a time.
        inflight = [0]
        finished = threading.Condition()

        def done(_result: Any) -> None:
            with finished:
                inflight[0] -= 1
                finished.notify()
            if self.gate is not None:
                self.gate.release()

        while True:
            cap = self.workers
            if self.limit is not None:
                cap = max(1, min(cap, self.limit() or cap))
            while not exhausted and inflight[0] < cap and len(pending) < cap * 4:
                chunk = list(islice(it, chunksize))
                if not chunk:
                    exhausted = True
                    break
                if self.gate is not None:
                    self.gate.acquire()
                with finished:
                    inflight[0] += 1
                pending.append(pool.apply_async(_run_chunk, (fn, chunk), callback=done, error_callback=done))
            if not pending:
                return
            if pending[0].ready():
                yield from pending.popleft().get()
            else:
                with finished:  # until a chunk ends: the head's results, or room for another chunk
                    finished.wait(0.05)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
