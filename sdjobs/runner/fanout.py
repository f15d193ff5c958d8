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
    """The job process's end of the token protocol with the supervisor.

    The job says whether it is hungry (has chunks to run); the supervisor
    grants tokens to the hungry job of highest priority; each chunk gives its
    token back when it ends. Because demand is standing, a token freed by a
    high-priority job goes back to it, not to whoever asked last.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._send_lock = threading.Lock()

    def _send(self, msg: tuple) -> None:
        with self._send_lock:
            self.conn.send(msg)

    def hungry(self, want: int) -> None:
        """How many chunks this job could run at once now (0: none)."""
        self._send(("hungry", want))

    def release(self, n: int = 1) -> None:
        self._send(("release", n))

    def grants(self, timeout: float = 0.0) -> int:
        """Tokens granted since the last call (waits up to ``timeout`` for one)."""
        n = 0
        if self.conn.poll(timeout):
            while True:
                msg = self.conn.recv()
                assert msg[0] == "grant", msg
                n += 1
                if not self.conn.poll():
                    break
        return n


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
        pool, it, pending = self._get_pool(), iter(items), deque()
        while True:
            while len(pending) < self._cap() * 2:
                chunk = list(islice(it, chunksize))
                if not chunk:
                    break
                pending.append(pool.apply_async(_run_chunk, (fn, chunk)))
            if not pending:
                return
            yield from pending.popleft().get()

    def _map_gated(self, fn: Callable, items: Iterable, chunksize: int) -> Iterator:
        pool, it, pending, gate = self._get_pool(), iter(items), deque(), self.gate
        running = [0]  # chunks holding a token (released by the pool's result thread)
        lock = threading.Lock()

        def done(_result: Any) -> None:
            with lock:
                running[0] -= 1
            gate.release()

        tokens, exhausted = 0, False
        want = self._cap()
        gate.hungry(want)
        try:
            while True:
                if not exhausted and self._cap() != want:
                    want = self._cap()  # max_workers changed while running
                    gate.hungry(want)
                tokens += gate.grants(0.0)
                while tokens and not exhausted and len(pending) < self._cap() * 4:
                    with lock:
                        if running[0] >= self._cap():
                            break
                    chunk = list(islice(it, chunksize))
                    if not chunk:
                        exhausted = True
                        gate.hungry(0)
                        break
                    with lock:
                        running[0] += 1
                    tokens -= 1
                    pending.append(pool.apply_async(_run_chunk, (fn, chunk), callback=done, error_callback=done))
                if exhausted and tokens:
                    gate.release(tokens)
                    tokens = 0
                if pending and pending[0].ready():
                    yield from pending.popleft().get()
                    continue
                if not pending and exhausted:
                    return
                if pending:
                    pending[0].wait(0.005)
                tokens += gate.grants(0.005 if not exhausted else 0.0)
        finally:
            if not exhausted:
                gate.hungry(0)
            if tokens:
                gate.release(tokens)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
