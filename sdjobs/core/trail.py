"""The trailing write of a job's context: what a job reported is stored within a moment
even if the job then blocks (a long read, a sleep, a lock).

``JobContext`` writes at most a few times a second from the job's thread; a call that
comes too soon after a write is buffered. A ``Trailer`` (one daemon thread per context,
started at the first buffered call) writes it once the interval has passed, unless the job's
own next write took it first. Its writes never hold the job's thread back for long: it
takes what is buffered under a lock and writes outside it, with a short busy timeout, and
puts back what it could not write.

No fork happens while a trailer writes: the job process forks its worker pool (``ctx.map``)
and its index writer; the hook below holds every context's write lock across a fork, so a
forked child never inherits SQLite or our locks in the middle of a write.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any

_contexts: weakref.WeakSet[Any] = weakref.WeakSet()


def _before_fork() -> None:
    for ctx in list(_contexts):
        ctx._write_lock.acquire()


def _after_fork() -> None:
    for ctx in list(_contexts):
        try:
            ctx._write_lock.release()
        except RuntimeError:
            pass


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)


def watch(ctx: Any) -> None:
    """Hold ``ctx._write_lock`` across every fork of this process while ``ctx`` lives."""
    _contexts.add(ctx)


class Trailer(threading.Thread):
    """Calls ``ctx._trailing_write()`` at the time last asked for (a weak reference: the
    thread never keeps its context alive, and ends with it)."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(name=f"sdjobs-trail-{ctx.job_id}", daemon=True)
        self._ctx = weakref.ref(ctx)
        self._cond = threading.Condition()
        self._due: float | None = None

    def at(self, due: float) -> None:
        with self._cond:
            if self._due is None or due < self._due:
                self._due = due
                self._cond.notify()

    def cancel(self) -> None:
        with self._cond:
            self._due = None

    def run(self) -> None:
        while True:
            with self._cond:
                while self._due is None:
                    if not self._cond.wait(5.0) and self._ctx() is None:
                        return
                delay = self._due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                self._due = None
            ctx = self._ctx()
            if ctx is None:
                return
            ctx._trailing_write()
            del ctx
