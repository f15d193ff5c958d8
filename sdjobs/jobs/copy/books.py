"""copy's bookkeeping: counts, progress, checkpoints and the words of its errors.

A mixin of the Copy job (``self.ctx``, ``self.out``, ``self.state``,
``self.large``, ``self.config`` are the job's): results come here from the
pool's batches, the large-file thread and the job's own thread.
"""

from __future__ import annotations

import errno
import os

from ...fs import copyfile as cf
from .batch import BatchResult, FileResult
from .walk import Entry


class CopyBooks:
    def _record(self, result: FileResult) -> None:
        if result.failure is not None:
            self._failed(result.src, result.dst, result.failure.error())
            return
        self.out["files"] += 1
        self.out["bytes"] += result.nbytes
        self.ctx.add_items(1)
        self.ctx.add_bytes(result.nbytes)
        p = self.ctx.current
        self.ctx.progress(done=(p.done or 0) + 1, bytes_done=self.out["bytes"], path=result.src)
        self.ctx.checkpoint(self.state)

    def _drain_large(self) -> None:
        """Report the large files done in their thread; checkpoint where it is."""
        self._walked_ahead()  # the totals, once the walk running ahead has them
        large = self.large
        if large is None:
            return
        self.bucket.rate = self.ctx.settings().get("bwlimit")
        while large.results:
            self.state["current"] = large.current
            self._record(large.results.popleft())
        self.state["current"] = large.current
        if large.current is not None:
            self.ctx.progress(bytes_done=self.out["bytes"] + large.pos)
            self.ctx.checkpoint(self.state)
        if large.failure is not None:
            raise large.failure

    def _wait_large(self) -> None:
        large = self.large
        if large is None:
            return
        if self.full is not None:
            large.halt()
        else:
            large.finish()
            while not large.wait(0.1):
                self._drain_large()
                self.ctx.check_interrupt()
        self._drain_large()
        self.large = None

    def _record_batch(self, result: BatchResult) -> None:
        self._drain_large()
        done, nbytes, last, problems, rest = result
        if rest:
            self.leftover.append(self.batch_opts._replace(files=rest))
        if done:
            self.bucket.spend(nbytes)  # a limit set while batches were out: no more go out until it holds
            self.out["files"] += done
            self.out["bytes"] += nbytes
            self.ctx.add_items(done)
            self.ctx.add_bytes(nbytes)
            p = self.ctx.current
            in_flight = self.large.pos if self.large is not None else 0  # of the large file in its thread
            self.ctx.progress(done=(p.done or 0) + done, bytes_done=self.out["bytes"] + in_flight, path=last)
            self.ctx.checkpoint(self.state)
        for problem in problems:
            self._failed(problem.src, problem.dst, problem.failure.error())

    def _done(self, e: Entry, n: int, *, skipped: bool = False, links: int = 0, files: int = 0) -> None:
        if self.counting:  # (not when an earlier run's walk counted it)
            self.out["bytes"] += n
            self.out["skipped"] += skipped
            self.out["links"] += links
            self.out["files"] += files
        p = self.ctx.current
        self.ctx.progress(done=(p.done or 0) + 1, path=e.src)

    def _failed(self, src: str, dst: str, exc: OSError) -> None:
        if exc.errno in cf.NO_SPACE:
            if self.full is None:
                self.full = (dst, exc)  # the copy stops; run() fails once the batches out there are back
            return
        if exc.errno == errno.EEXIST and self.config.on_conflict == "skip":
            self.out["skipped"] += 1
        elif exc.errno == errno.EEXIST:
            self.ctx.error("appeared in the destination during the copy; left as it is", path=dst)
        elif exc.errno == errno.ENOENT and not os.path.lexists(src):
            self.ctx.error("vanished before it could be copied", path=src)
        elif exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.EXDEV):  # the source is there:
            self.ctx.error(f"not written (its destination directory is missing or not a directory"
                           f" any more): {exc.strerror}", path=dst)  # (a directory swapped for a symlink, say)
        else:
            self.ctx.error(exc, path=src)
        self.ctx.progress(done=(self.ctx.current.done or 0) + 1)
