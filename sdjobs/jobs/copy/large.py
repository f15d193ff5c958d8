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

from ...fs import copyfile as cf
from .batch import DST, SRC, Failure, FileResult, Sides


class _Halted(BaseException):
    """Raised in the thread to stop a copy; copy_file keeps the temp file for it."""


class LargeCopier:
    def __init__(self, token: str, *, verify: bool, move: bool, replace: bool, roots: list[str],
                 src_roots: list[str] | None = None, bucket: Bucket | None = None) -> None:
        self.token, self.verify, self.move, self.replace = token, verify, move, replace
        # paths are resolved beneath the parents of the sources and targets, never through a symlink
        self.roots, self.src_roots = roots, src_roots or roots
        self.results: deque[FileResult] = deque()
        self.current: dict | None = None  # {"dst", "offset", "tmp"} of the file in progress
        self.pos = 0  # its bytes copied so far
        self.bucket = bucket or Bucket()  # the job's bandwidth limit, shared with the job's thread
        self.failure: BaseException | None = None
        self._queue: queue.Queue = queue.Queue()
        self._halt = False
        self._thread = threading.Thread(target=self._run, name="copy-large", daemon=True)
        self._thread.start()

    @property
    def bwlimit(self) -> float | None:
        return self.bucket.rate

    @bwlimit.setter
    def bwlimit(self, rate: float | None) -> None:
        self.bucket.rate = rate

    def add(self, src: str, dst: str, top: int, offset: int = 0, tmp: str | None = None, size: int = 0,
            mine: bool = False) -> None:
        """Queue a file; ``size`` and ``mine``: what the job counted it ahead with, and whether this
        run did (its result carries them)."""
        self._queue.put((src, dst, top, offset, tmp, size, mine))

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
        self._sides = Sides(self.src_roots, self.roots)
        try:
            while not self._halt:
                item = self._queue.get()
                if item is None or self._halt:
                    return
                self._copy(*item)
        except _Halted:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the job's thread
            self.failure = exc
        finally:
            self._sides.close()

    def _copy(self, src: str, dst: str, top: int, offset: int, tmp: str | None, size: int, mine: bool) -> None:
        bw = self.bucket.rate
        chunk = max(64 * 1024, int(bw) // 8) if bw else cf.CHUNK  # limited: 8 steps a second
        tmp = tmp if offset and tmp else cf.temp_name(self.token)

        def on_chunk(pos: int, n: int) -> None:
            self.current, self.pos = {"dst": dst, "offset": pos, "tmp": tmp}, pos
            self.bucket.spend(n)
            if self._halt:
                raise _Halted()

        self.current, self.pos = {"dst": dst, "offset": offset, "tmp": tmp}, offset
        try:
            sfd, sname = self._sides.at(SRC, top, src)
            st = os.stat(sname, dir_fd=sfd, follow_symlinks=False)
            dfd, name = self._sides.at(DST, top, dst)
            n, _ = cf.copy_file(sname, dfd, name, tmp, verify=self.verify, resume_offset=offset, src_dfd=sfd,
                                on_chunk=on_chunk, chunk=chunk, replace=self.replace, durable=self.move)
            self.bucket.spend(n - self.pos)
            if self.move:
                os.fsync(dfd)  # the new name is durable before the source goes
                sfd, sname = self._sides.at(SRC, top, src)
                cf.remove_source(sfd, sname, (st.st_dev, st.st_ino))
        except OSError as exc:
            self.current, self.pos = None, 0
            self.results.append(FileResult(src, dst, 0, Failure.of(exc), top, size, mine))
            return
        self.current, self.pos = None, 0
        self.results.append(FileResult(src, dst, n, None, top, size, mine))


class Bucket:
    """One bandwidth limit for the whole job (bytes a second; None: none), whichever thread spends.

    Bytes are spent after they are copied; ``spend`` sleeps until the job's
    average since the limit was set is back under it (a second of credit at most)."""

    def __init__(self, rate: float | None = None) -> None:
        self._rate = rate
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._spent = 0

    @property
    def rate(self) -> float | None:
        return self._rate

    @rate.setter
    def rate(self, rate: float | None) -> None:
        with self._lock:
            if rate != self._rate:
                self._rate, self._start, self._spent = rate, time.monotonic(), 0

    def spend(self, n: int) -> None:
        with self._lock:
            rate = self._rate
            if not rate or n <= 0:
                return
            now = time.monotonic()
            self._start = max(self._start, now - 1.0 - self._spent / rate)  # idle time is not saved up
            self._spent += n
            wait = self._start + self._spent / rate - now
        if wait > 0:
            time.sleep(wait)


def throttle(started: list[float], n: int, rate: float) -> None:
    elapsed = time.monotonic() - started[0]
    wait = n / rate - elapsed
    if wait > 0:
        time.sleep(wait)
    started[0] = time.monotonic()
