"""The fan-out's worker processes: forked once per job process, each with a pipe of its own.

The map's thread does all of it: it sends a chunk to an idle worker, waits on the
busy workers' pipes (and on whatever else the map waits for), and takes each result
as it comes. ``multiprocessing.Pool`` did the same with three threads of its own in
the job process (one feeding its task queue, one reading results, one watching the
workers), and every chunk went through two of them: on ``mixed`` of
bench/dupes_data.py that cost the job process half a core during the walk (the
threads' own CPU, and the GIL handed between them at every chunk), and each worker
waited 2-7 ms for its next chunk. Measured on that tree, the same walk and reading
tasks over this pool took 0.25 s against 0.34 s over ``multiprocessing.Pool``.

A chunk is sent to an idle worker, which is then waiting in ``recv``, and one more
may be queued behind a busy worker's (``queue``), which it starts as soon as it has
sent its result: written at once only when it pickles small (QUEUE_BYTES), else when
that result is read, so that a big chunk never meets a worker that is itself blocked
sending a big result. A worker that dies (the OOM killer's SIGKILL) closes its pipe
and its sentinel: ``collect`` raises ``WorkerLost``, and the job resumes from its
last checkpoint.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
from multiprocessing.pool import ExceptionWithTraceback, MaybeEncodingError  # type: ignore[attr-defined]
from typing import Any

from ..core.errors import WorkerLost
from . import lifeline


class Sent:
    """A chunk sent to a worker; ``finish`` fills in how it ended, then calls ``on_end``."""

    __slots__ = ("done", "ok", "value", "on_end")

    def __init__(self, on_end: Callable[[], None] | None = None) -> None:
        self.done = False
        self.ok = False
        self.value: Any = None  # its results, or the exception it raised
        self.on_end = on_end

    def finish(self, ok: bool, value: Any, handed_on: bool = False) -> None:
        """``handed_on``: the worker goes on at once with a chunk queued behind this one, which
        runs on this one's fan-out token: ``on_end`` is left to the last chunk of the run."""
        self.ok, self.value, self.done = ok, value, True
        if self.on_end is not None and not handed_on:
            self.on_end()


def run_chunk(fn: Callable, chunk: list) -> list:
    """What a worker does with a chunk (the fan-out runs a chunk in its own thread the same way)."""
    return [fn(item) for item in chunk]


def _serve(conn: Connection, job_pid: int, others: list[Connection]) -> None:
    """A worker: run each chunk it is sent, send back its results or its exception. ``others``:
    the job's ends of the workers forked before it, which it closes (held open here, they would
    keep those workers from seeing their pipe end)."""
    for other in others:
        other.close()
    lifeline.die_with_parent(job_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C and a hang-up are the supervisor's business
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the job process closed its end: nothing more to do
        if task is None:
            return
        fn, chunk = task
        try:
            result: tuple[bool, Any] = (True, run_chunk(fn, chunk))
        except Exception as exc:  # noqa: BLE001 - as multiprocessing.Pool: any error, with this side's traceback
            result = (False, ExceptionWithTraceback(exc, exc.__traceback__))
        try:
            conn.send(result)
        except Exception as exc:  # noqa: BLE001 - results that cannot be pickled, whatever the reason
            conn.send((False, MaybeEncodingError(exc, result[1])))


# A chunk queued behind a busy worker's is written to its pipe at once when it pickles to no
# more than this; a bigger one when the worker's result is read (the worker then waits in
# ``recv``). So the job process never blocks writing to a worker that is itself blocked writing
# its result: what lies unread in a worker's pipe beside its queued chunk is at most the tail of
# the chunk it is reading, and both fit the socket's buffer (SNDBUF asks for more; Linux gives
# 208 KiB by default).
QUEUE_BYTES = 64 * 1024
SNDBUF = 1 << 20


class Worker:
    __slots__ = ("proc", "conn", "sent", "queued", "payload")

    def __init__(self, proc: Any, conn: Connection) -> None:
        self.proc = proc
        self.conn = conn
        self.sent: Sent | None = None  # the chunk it runs, None while idle
        self.queued: Sent | None = None  # the chunk it runs next (``WorkerPool.queue``)
        self.payload: bytes | None = None  # that chunk, pickled, while not yet written to the pipe


class WorkerPool:
    def __init__(self, size: int, job_pid: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.workers: list[Worker] = []
        for _ in range(size):
            here, there = ctx.Pipe(duplex=True)
            proc = ctx.Process(target=_serve, args=(there, job_pid, [w.conn for w in self.workers]),
                               daemon=True)
            proc.start()
            there.close()
            _grow_sndbuf(here)
            self.workers.append(Worker(proc, here))
        self._lock = threading.Lock()  # one reader of the pipes at a time: the map's thread or ``Watcher``

    def idle(self) -> Worker | None:
        return next((w for w in self.workers if w.sent is None), None)

    def queueable(self, mine: Iterable[Sent]) -> Worker | None:
        """A worker running one of ``mine`` (a map's chunks: not a chunk of a map given up
        before, whose fan-out token is not this map's to pass on) with nothing queued behind it."""
        ours = {id(s) for s in mine}
        return next((w for w in self.workers if id(w.sent) in ours and w.queued is None), None)

    def queue(self, worker: Worker, fn: Callable, chunk: list, sent: Sent) -> bool:
        """``chunk`` queued behind the one ``worker`` runs, so that it starts at that one's end
        without waiting for this process to read its result and send it another (0.5-2 ms
        a chunk on a busy 2-core machine, ``dupes`` of bench/dupes_data.py's ``mixed``).
        False, and nothing queued, if the worker ended its chunk meanwhile (``Watcher``)."""
        payload = ForkingPickler.dumps((fn, chunk))  # what cannot go to a worker fails in the map's thread
        with self._lock:  # (the Watcher may be taking this worker's result at this very moment)
            if worker.sent is None or worker.queued is not None:
                return False
            worker.queued = sent
            if len(payload) > QUEUE_BYTES:
                worker.payload = bytes(payload)  # written when the worker's result is read
                return True
            try:
                worker.conn.send_bytes(payload)
            except OSError:
                self._lost(worker)
        return True

    def busy(self) -> int:
        return sum(w.sent is not None for w in self.workers)

    def send(self, worker: Worker, fn: Callable, chunk: list, sent: Sent) -> None:
        worker.sent = sent
        try:
            worker.conn.send((fn, chunk))  # pickled here: what cannot go to a worker fails in the map's thread
        except OSError:
            worker.sent = None
            self._lost(worker)  # its pipe is gone with it
        except BaseException:
            worker.sent = None
            raise

    def waitables(self) -> list:
        """What ``collect`` needs to look at: the busy workers' pipes and every worker's sentinel."""
        return [w.conn for w in self.workers if w.sent is not None] + [w.proc.sentinel for w in self.workers]

    def collect(self, ready: list | None = None) -> None:
        """Take the results of the busy workers whose pipes are in ``ready`` (or are readable
        now, when None); raise WorkerLost if a worker has died."""
        if ready is None:
            ready = wait(self.waitables(), 0)
        with self._lock:
            self._collect(ready)
        self.check()

    def _collect(self, ready: list) -> None:
        for w in self.workers:
            if w.sent is not None and w.conn in ready and w.conn.poll(0):  # (not taken by the other reader)
                try:
                    ok, value = w.conn.recv()
                    if w.payload is not None:  # the queued chunk was too big to write ahead
                        w.conn.send_bytes(w.payload)
                except (EOFError, OSError):
                    self._lost(w)  # its pipe ended with it
                sent, w.sent, w.queued, w.payload = w.sent, w.queued, None, None
                sent.finish(ok, value, handed_on=w.sent is not None)

    def _lost(self, worker: Worker) -> None:
        worker.proc.join(1)  # its exit code says how it died
        self.check()
        raise WorkerLost("a worker process died; the job resumes from its last checkpoint")

    def check(self) -> None:
        """Raise WorkerLost if a worker has died: its chunk will never come back."""
        for w in self.workers:
            code = w.proc.exitcode
            if code is not None:
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                raise WorkerLost(f"a worker process died ({how}); the job resumes from its last checkpoint")

    def close(self) -> None:
        """Stop every worker at once (SIGTERM, as ``multiprocessing.Pool.terminate``), idle or in the
        middle of a chunk: a worker holds what it inherited from the job process (the copy's
        destination directory, open), and a worker that took its time to end kept, say, a
        filesystem busy after its job was over."""
        for w in self.workers:
            if w.proc.exitcode is None:
                w.proc.terminate()
            w.conn.close()
        for w in self.workers:
            w.proc.join(5)
            if w.proc.exitcode is None:
                w.proc.kill()
                w.proc.join()


def _grow_sndbuf(conn: Connection) -> None:
    """Ask for SNDBUF bytes of send buffer on the job's end of a worker's pipe (the kernel
    may give less: ``QUEUE_BYTES`` counts on its default only)."""
    try:
        with socket.socket(fileno=os.dup(conn.fileno())) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
    except OSError:
        pass


class Watcher:
    """Takes the results of chunks that end while the map's consumer is away (``away``), so that
    their tokens go back at once and not when the consumer comes back: a thread that sleeps the
    rest of the time, and reads a pipe only under the pool's lock."""

    LOOK = 0.05  # seconds between looks at an idle pool while away

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.away = threading.Event()
        self._stopped = False
        self._stop_r, self._stop_w = os.pipe()  # ``stop`` wakes it at once from its wait
        self._thread = threading.Thread(target=self._run, name="sdjobs-fanout-away", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.away.wait()
            if self._stopped:
                return
            ready = wait([*self.pool.waitables(), self._stop_r], self.LOOK)
            if self._stopped:
                return
            if not self.away.is_set():
                continue
            try:
                self.pool.collect(ready)
            except WorkerLost:
                return  # the map's thread finds it out for itself

    def stop(self) -> None:
        self._stopped = True
        self.away.set()
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        os.close(self._stop_r)
        os.close(self._stop_w)
