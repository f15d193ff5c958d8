"""copy's large files, copied in a thread of the job process while the pool copies small ones.

The thread never touches the job context (nor the store behind it): it
publishes where it is (``current``, for the checkpoint; ``pos``, for progress)
and queues its results; the job's thread reports them, checkpoints, and hands
down the live bandwidth limit. ``halt`` stops it at the next chunk, with the
temp file kept to resume from.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque

from ..fs import copyfile as cf


class _Halted(BaseException):
    """Raised in the thread to stop a copy; copy_file keeps the temp file for it."""


class LargeCopier:
    def __init__(self, job_id: int, *, verify: bool, move: bool, replace: bool) -> None:
        self.job_id, self.verify, self.move, self.replace = job_id, verify, move, replace
        self.results: deque[tuple] = deque()  # (src, dst, bytes, None or (errno, message))
        self.current: dict | None = None  # {"dst", "offset"} of the file in progress
        self.pos = 0  # its bytes copied so far
        self.bwlimit: float | None = None
        self.failure: BaseException | None = None
        self._queue: queue.Queue = queue.Queue()
        self._halt = False
        self._thread = threading.Thread(target=self._run, name="copy-large", daemon=True)
        self._thread.start()

    def add(self, src: str, dst: str, st: os.stat_result, offset: int) -> None:
        self._queue.put((src, dst, st, offset))

    def finish(self) -> None:
        """No more files: the thread ends when the queued ones are done."""
        self._queue.put(None)

    def wait(self, timeout: float) -> bool:
        """True once the thread has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def halt(self) -> None:
        """Stop after the current chunk, keeping its temp file; returns when stopped."""
        self._halt = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._halt:
                item = self._queue.get()
                if item is None or self._halt:
                    return
                self._copy(*item)
        except _Halted:
            pass
        except BaseException as exc:  # handed to the job's thread
            self.failure = exc

    def _copy(self, src: str, dst: str, st: os.stat_result, offset: int) -> None:
        bw = self.bwlimit
        chunk = max(64 * 1024, int(bw) // 8) if bw else cf.CHUNK  # limited: 8 steps a second
        started = [time.monotonic()]

        def on_chunk(pos: int, n: int) -> None:
            self.current, self.pos = {"dst": dst, "offset": pos}, pos
            limit = self.bwlimit
            if limit:
                throttle(started, n, limit)
            if self._halt:
                raise _Halted()

        self.current, self.pos = ({"dst": dst, "offset": offset} if offset else None), offset
        try:
            n, _ = cf.copy_file(src, dst, st, self.job_id, verify=self.verify, resume_offset=offset,
                                on_chunk=on_chunk, chunk=chunk, replace=self.replace)
            if self.move:
                os.unlink(src)
        except OSError as exc:
            self.current, self.pos = None, 0
            self.results.append((src, dst, 0, (exc.errno or 0, exc.strerror or str(exc))))
            return
        self.current, self.pos = None, 0
        self.results.append((src, dst, n, None))


def throttle(started: list[float], n: int, rate: float) -> None:
    elapsed = time.monotonic() - started[0]
    wait = n / rate - elapsed
    if wait > 0:
        time.sleep(wait)
    started[0] = time.monotonic()
