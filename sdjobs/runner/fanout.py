"""Fan-out: one job's work spread over worker processes.

Each job process forks its own pool lazily: not before its first ``ctx.map``
has a second chunk to send. A map of no item forks nothing, and a map of one
chunk runs it in the job's own thread (a one-file copy, a dupes of a small
tree: forking, feeding and stopping two workers cost more than the work), on
copies of its items, as a worker would. How many chunks run at once across
*all* jobs of a runner is bounded by tokens that the supervisor grants,
highest job priority first (see ``gate``), so jobs share the runner's N
workers instead of each taking N.

The items of the first map are pulled until a second chunk is known before the
pool is forked: a thread the job starts while making them runs across the fork.
Only the forking thread lives on in a worker, which must never need what such a
thread holds (``core/trail.py`` holds the trailer's write lock across a fork).

A worker dies with its job process (``lifeline``). A worker that dies on its
own (the OOM killer's SIGKILL) takes the chunk it was running with it, which
``multiprocessing.Pool`` would wait for forever: the fan-out watches the
workers' sentinels and raises ``WorkerLost``, which ends the job process as
a crash, so that the job resumes from its last checkpoint.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from multiprocessing.reduction import ForkingPickler
from multiprocessing.connection import wait
from multiprocessing.pool import Pool
from typing import Any

from ..core.errors import WorkerLost
from . import lifeline
from .gate import GateClient, Tokens

__all__ = ["FanOut", "GateClient", "WorkerLost"]

POLL = 0.05  # seconds between looks at the workers while waiting for a result


def _init_worker(job_pid: int) -> None:
    lifeline.die_with_parent(job_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C and a hang-up are the supervisor's business
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _run_chunk(fn: Callable, chunk: list) -> list:
    return [fn(item) for item in chunk]


def _copied(value: Any) -> Any:
    return pickle.loads(ForkingPickler.dumps(value))


def _run_here(fn: Callable, chunk: list) -> list:
    """A chunk run in the job's own thread as a worker would run it: ``fn`` and the items pickled
    (what cannot go to a worker fails here too), results that share nothing with the items."""
    return _copied(_run_chunk(_copied(fn), _copied(chunk)))


class _Lookahead:
    """``items`` in chunks, the next one taken ahead of time (``peek``) so that it is ready when a token is."""

    def __init__(self, items: Iterable, size: int) -> None:
        self._it = iter(items)
        self._size = size
        self._next: list | None = None
        self.exhausted = False  # items ran out: no chunk is waiting and none will come

    def peek(self) -> list | None:
        if self._next is None and not self.exhausted:
            self._next = list(islice(self._it, self._size)) or None
            self.exhausted = self._next is None
        return self._next

    def take(self) -> list:
        """The next chunk (there is one: ``peek`` said so)."""
        chunk, self._next = self.peek(), None
        assert chunk is not None
        return chunk


class _Sent:
    """A chunk sent to the pool; the pool's result thread fills in how it ended."""

    __slots__ = ("done", "ok", "value")

    def __init__(self) -> None:
        self.done = False
        self.ok = False
        self.value: Any = None  # its results, or the exception it raised

    def finish(self, ok: bool, value: Any) -> None:
        self.ok, self.value = ok, value
        self.done = True  # last: the job's thread reads ``done`` first


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
        if self._pool is None:  # no pool yet: none for no chunk, nor for one
            it = iter(items)
            first = list(islice(it, chunksize))
            if not first:
                return
            second = list(islice(it, chunksize))
            if not second:
                yield from _run_here(fn, first)
                return
            items = chain(first, second, it)  # (``first`` is whole: the same chunks again)
        if self.gate is None:
            yield from self._map_free(fn, items, chunksize)
        else:
            yield from self._map_gated(fn, items, chunksize)

    def _map_free(self, fn: Callable, items: Iterable, chunksize: int) -> Iterator:
        pool, it = self._get_pool(), iter(items)
        pending: deque = deque()  # the pool's AsyncResults, in order
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
        pool, gate, chunks = self._get_pool(), self.gate, _Lookahead(items, chunksize)
        assert gate is not None
        tokens = Tokens(gate)
        pending: deque[_Sent] = deque()  # the chunks sent to the pool, in order

        def submit(chunk: list) -> None:
            sent = _Sent()

            def finished(ok: bool, value: Any) -> None:
                sent.finish(ok, value)
                tokens.chunk_ended()

            tokens.started()
            pool.apply_async(_run_chunk, (fn, chunk), callback=lambda r: finished(True, r),
                             error_callback=lambda e: finished(False, e))
            pending.append(sent)

        tokens.want(self._cap())
        try:
            while True:
                self._spend(tokens, chunks, submit)
                if pending and pending[0].done:
                    sent = pending.popleft()
                    if not sent.ok:
                        raise sent.value
                    with tokens.away():
                        yield from sent.value
                    continue
                if not pending and chunks.exhausted:
                    return
                tokens.wait([gate.conn, *self._sentinels()], POLL)
                self._check_workers()
        finally:
            tokens.close()

    def _spend(self, tokens: Tokens, chunks: _Lookahead, submit: Callable[[list], None]) -> None:
        """One look at the tokens: take the grants, answer reclaims, start the chunks that spare
        tokens allow, and give back the tokens there is no work for."""
        gate = self.gate
        assert gate is not None
        tokens.settle()
        tokens.granted(gate.grants(0.0))
        cap = self._cap()
        if not chunks.exhausted:
            tokens.want(cap)  # max_workers may have changed while running
        tokens.give_back(min(tokens.spare, gate.reclaim))  # asked back: before this job reuses it
        while tokens.spare > 0 and tokens.running < cap and chunks.peek() is not None:
            submit(chunks.take())
        chunks.peek()
        if chunks.exhausted:
            tokens.want(0)
        keep = tokens.running if chunks.exhausted else max(tokens.running, cap)
        tokens.give_back(tokens.held - keep)  # no work for them, or more than max_workers now allows

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
