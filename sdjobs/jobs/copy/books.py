"""copy's bookkeeping: counts, progress, checkpoints and the words of its errors.

A mixin of the Copy job (``self.ctx``, ``self.out``, ``self.state``,
``self.large``, ``self.config`` are the job's): results come here from the
pool's batches, the large-file thread and the job's own thread.

A file to copy is counted when the walk hands it out (``_count_ahead``), not
when its result comes back: the counts then always hold every file up to the
walk's point in the same checkpoint (``state.walked``, see ``Recount``). A run
that crashes has copied files whose results it never recorded; its resume,
which counts only beyond that point, finds them copied and counted both. (They
were counted at their results before: the files copied after the last
checkpoint were counted by no run.) A result corrects the count: the bytes as
copied, and a file not copied after all is uncounted and kept in
``state.uncounted``, so that the run that does copy it counts it again.
"""

from __future__ import annotations

import errno
import os

from ...fs import copyfile as cf
from .batch import BatchResult, Failure, FileResult
from .walk import Entry

NOT_TRIED = Failure(errno.ENOSPC, "not tried: the destination is full")  # the files of a batch after a full one


class CopyBooks:
    def _count_ahead(self, size: int) -> bool:
        """A regular file handed out to be copied (to the pool, the large-file thread, or this
        thread): counted now, as copied, unless an earlier run counted it (``self.counting``);
        whether this run did. Its bytes are ``pending`` until its result is in."""
        if self.counting:
            self.out["files"] += 1
            self.out["bytes"] += size
            self.pending += size
        return self.counting

    def _bytes_done(self) -> int:
        """The bytes copied by this run and those before it, for progress (the counts less what
        was counted ahead and is not copied yet)."""
        return self.out["bytes"] - self.pending

    def _uncount(self, top: int, src: str, size: int, failure: Failure) -> None:
        """A file counted ahead and not copied: not counted, but by the run that copies it (a
        file skipped because it appeared in the destination is decided: ``_failed`` counts it)."""
        self.out["files"] -= 1
        self.out["bytes"] -= size
        if not (failure.errno == errno.EEXIST and self.config.on_conflict == "skip"):
            self.uncounted[self._uncounted_key(top, src)] = 1

    def _uncounted_key(self, top: int, src: str) -> str:
        """A file's key in ``state.uncounted``: its top and its path under that source."""
        return f"{top}:{src[len(self.config.sources[top]):]}"

    def _record(self, result: FileResult) -> None:
        """The result of a file copied outside the pool, counted ahead with ``result.planned`` bytes."""
        if result.mine:
            self.pending -= result.planned
        if result.failure is not None:
            self._uncount(result.top, result.src, result.planned, result.failure)
            self._failed(result.src, result.dst, result.failure.error())
            return
        self.out["bytes"] += result.nbytes - result.planned  # (what changed since the walk saw it)
        self.ctx.add_items(1)
        self.ctx.add_bytes(result.nbytes)
        p = self.ctx.current
        self.ctx.progress(done=(p.done or 0) + 1, bytes_done=self._bytes_done(), path=result.src)
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
            self.ctx.progress(bytes_done=self._bytes_done() + large.pos)
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
        done, nbytes, last, problems, rest, planned, ahead, missed = result
        self.pending -= ahead
        if rest:
            self.leftover.append(self.batch_opts._replace(files=rest))
        if missed:
            failures = {p.src: p.failure for p in problems}
            for top, src, size in missed:
                self._uncount(top, src, size, failures.get(src, NOT_TRIED))
        if done:
            self.bucket.spend(nbytes)  # a limit set while batches were out: no more go out until it holds
            self.out["bytes"] += nbytes - planned  # (the files were counted ahead: what changed since)
            self.ctx.add_items(done)
            self.ctx.add_bytes(nbytes)
            p = self.ctx.current
            in_flight = self.large.pos if self.large is not None else 0  # of the large file in its thread
            self.ctx.progress(done=(p.done or 0) + done, bytes_done=self._bytes_done() + in_flight, path=last)
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
