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

The workers are ``runner/pool.py``'s: a pipe each, driven from the map's own
thread. A worker dies with its job process (``lifeline``). A worker that dies on
its own (the OOM killer's SIGKILL) takes the chunk it was running with it: the
pool raises ``WorkerLost``, which ends the job process as a crash, so that the
job resumes from its last checkpoint.
"""

from __future__ import annotations

import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from multiprocessing.connection import wait
from multiprocessing.reduction import ForkingPickler
from typing import Any

from ..core.errors import WorkerLost
from .gate import GateClient, Tokens
from .pool import Sent, Watcher, WorkerPool, run_chunk

__all__ = ["FanOut", "GateClient", "WorkerLost"]

POLL = 0.05  # seconds between looks at the workers while waiting for a result


def _copied(value: Any) -> Any:
    return pickle.loads(ForkingPickler.dumps(value))


def _run_here(fn: Callable, chunk: list) -> list:
    """A chunk run in the job's own thread as a worker would run it: ``fn`` and the items pickled
    (what cannot go to a worker fails here too), results that share nothing with the items."""
    return _copied(run_chunk(_copied(fn), _copied(chunk)))


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


class FanOut:
    def __init__(self, workers: int | None = None, gate: GateClient | None = None,
                 limit: Callable[[], int | None] | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.gate = gate
        self.limit = limit  # live per-job cap (max_workers setting)
        self._pool: WorkerPool | None = None
        self._watcher: Watcher | None = None

    def fork_workers(self) -> None:
        """Fork the pool now, before the job maps anything (a spare job process: runner/spare.py)."""
        self._get_pool()

    def _get_pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(self.workers, os.getpid())
        return self._pool

    def _away(self, pool: WorkerPool) -> Watcher:
        if self._watcher is None:
            self._watcher = Watcher(pool)
        return self._watcher

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

    @staticmethod
    def _send(pool: WorkerPool, fn: Callable, chunk: list, sent: Sent) -> None:
        """``chunk`` to an idle worker; one that cannot be pickled ends as its chunk's error, in order."""
        worker = pool.idle()
        assert worker is not None
        try:
            pool.send(worker, fn, chunk, sent)
        except Exception as exc:  # noqa: BLE001 - whatever pickling raised, raised by the map in its turn
            sent.finish(False, exc)

    def _queue(self, pool: WorkerPool, fn: Callable, chunks: _Lookahead, pending: deque[Sent],
               on_end: Callable[[], None] | None = None) -> None:
        """Queue the next chunks behind the map's running ones, one a worker (``WorkerPool.queue``):
        each runs on the fan-out token of the chunk before it. None while more workers are busy
        than max_workers now allows: those drain. One that cannot be pickled ends as its
        chunk's error, in order (it never ran on a token: ``on_end`` is not called)."""
        while ((chunk := chunks.peek()) is not None and pool.busy() <= self._cap()
               and (worker := pool.queueable(pending)) is not None):
            sent = Sent(on_end=on_end)
            try:
                if not pool.queue(worker, fn, chunk, sent):
                    return  # it ended its chunk meanwhile: the next one goes to it as to any idle worker
            except WorkerLost:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever pickling raised, raised by the map in its turn
                sent.finish(False, exc, handed_on=True)
            chunks.take()
            pending.append(sent)

    def _map_free(self, fn: Callable, items: Iterable, chunksize: int) -> Iterator:
        pool, chunks = self._get_pool(), _Lookahead(items, chunksize)
        pending: deque[Sent] = deque()  # the chunks sent, in order
        while True:
            while pool.busy() < self._cap() and pool.idle() is not None and chunks.peek() is not None:
                sent = Sent()
                self._send(pool, fn, chunks.take(), sent)
                pending.append(sent)
            self._queue(pool, fn, chunks, pending)
            exhausted = chunks.exhausted
            if pending and pending[0].done:
                sent = pending.popleft()
                if not sent.ok:
                    raise sent.value
                yield from sent.value
                continue
            if not pending and exhausted:
                return
            pool.collect(wait(pool.waitables(), POLL))  # (workers may still run a map given up before)

    def _map_gated(self, fn: Callable, items: Iterable, chunksize: int) -> Iterator:
        """Each chunk runs on a token; a token is kept for the next chunk (no round trip
        to the supervisor per chunk) until the work runs out or the supervisor reclaims it.
        The next chunk is taken from ``items`` ahead of time, so a worker that ends a
        chunk gets another as soon as its result is read."""
        pool, gate, chunks = self._get_pool(), self.gate, _Lookahead(items, chunksize)
        assert gate is not None
        tokens = Tokens(gate)
        pending: deque[Sent] = deque()  # the chunks sent, in order

        def submit(chunk: list) -> None:
            tokens.started()
            sent = Sent(on_end=tokens.chunk_ended)
            self._send(pool, fn, chunk, sent)
            pending.append(sent)

        tokens.want(self._cap())
        try:
            while True:
                self._spend(tokens, chunks, submit, pool)
                if not gate.reclaim:  # (a token asked back goes back when its worker's chunks end)
                    self._queue(pool, fn, chunks, pending, tokens.chunk_ended)
                if pending and pending[0].done:
                    sent = pending.popleft()
                    if not sent.ok:
                        raise sent.value
                    watcher = self._away(pool)
                    with tokens.away():
                        watcher.away.set()  # chunks that end meanwhile give their tokens back at once
                        try:
                            yield from sent.value
                        finally:
                            watcher.away.clear()
                    continue
                if not pending and chunks.exhausted:
                    return
                pool.collect(tokens.wait([gate.conn, *pool.waitables()], POLL))
        finally:
            tokens.close()

    def _spend(self, tokens: Tokens, chunks: _Lookahead, submit: Callable[[list], None], pool: WorkerPool) -> None:
        """One look at the tokens: take the grants, answer reclaims, start the chunks that spare
        tokens (and idle workers) allow, and give back the tokens there is no work for."""
        gate = self.gate
        assert gate is not None
        tokens.settle()
        tokens.granted(gate.grants(0.0))
        cap = self._cap()
        if not chunks.exhausted:
            tokens.want(cap)  # max_workers may have changed while running
        tokens.give_back(min(tokens.spare, gate.reclaim))  # asked back: before this job reuses it
        while (tokens.spare > 0 and tokens.running < cap and pool.idle() is not None
               and chunks.peek() is not None):
            submit(chunks.take())
        chunks.peek()
        if chunks.exhausted:
            tokens.want(0)
        keep = tokens.running if chunks.exhausted else max(tokens.running, cap)
        tokens.give_back(tokens.held - keep)  # no work for them, or more than max_workers now allows

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._pool is None:
            return
        self._pool.close()
        self._pool = None
