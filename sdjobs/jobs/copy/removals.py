"""--move: the sources the job's own thread moved, removed only once a checkpoint counts them.

A resume walks the sources again and counts only what lies past its checkpoint's walk point
(``Recount``). A source removed after its entry was counted, and before a checkpoint held that
count, is met by no later walk: its count was lost with the crash. So the sources this thread
moves (symlinks, FIFOs and devices, further names of a file, files copied here or found
copied in place by a resume) are not removed at once. Each is queued in ``state.removing``
with its destination; the copies are made durable (``batch.sync_copies``), a checkpoint
writes the queue with the counts that hold it, and then the sources go (``_remove_moved``). A crash between that
checkpoint and the removals leaves the queue to the resume (``_remove_queued``), which removes
a source only while it is still the entry copied and its copy is in the destination, the same.

The pool's batches and the large-file thread remove their own sources: the checkpoint that
counts their files is forced before they are handed out (``_moving_soon``).

A mixin of the Copy job (``self.ctx``, ``self.state``, ``self.config``, ``self.sides`` are the
job's).
"""

from __future__ import annotations

import os
import stat

from ...fs import copyfile as cf
from .batch import DST, SRC, sync_copies
from .walk import Entry

REMOVE_AT_ONCE = 256  # queued removals that force a checkpoint (one write for this many sources)


class MoveRemovals:
    def _unlink_moved(self, e: Entry, dst: str) -> None:
        """--move: queue the source of ``e``, copied to ``dst`` by this thread, for removal."""
        if not self.config.move:
            return
        removing = self.state.removing
        removing.append([e.top, e.src, dst, e.st.st_dev, e.st.st_ino])
        if len(removing) >= REMOVE_AT_ONCE:
            self._remove_moved()

    def _moving_soon(self) -> None:
        """--move: write the counts so far in a checkpoint, before more sources go: the queued
        ones now, those of a batch or a large file about to be handed out next."""
        if self.config.move:
            self._remove_moved()

    def _remove_moved(self) -> None:
        removing = self.state.removing
        try:  # the copies first: durable before their sources go (as a batch's, batch.py)
            sync_copies(self.sides, {(top, os.path.dirname(dst)) for top, _src, dst, _dev, _ino in removing})
        except OSError as exc:
            for _top, src, _dst, _dev, _ino in removing:
                self.ctx.error(f"copied, but not synced, so the source was not removed: {exc.strerror}", path=src)
            removing.clear()
        self.ctx.checkpoint(self.state, force=True)
        for top, src, _dst, dev, ino in removing:
            self._remove_source(top, src, (dev, ino))
        removing.clear()

    def _remove_source(self, top: int, src: str, ident: tuple[int, int]) -> None:
        try:
            cf.remove_source(*self.sides.at(SRC, top, src), ident)
        except FileNotFoundError:
            self.ctx.warn("the source was gone already when it was to be removed", path=src)
        except OSError as exc:
            self.ctx.error(exc, path=src)

    def _remove_queued(self, state) -> None:
        """A resume: remove what the interrupted run had queued and checkpointed, if still there,
        the entry it copied, and its copy is in place; otherwise the source stays, with a warning.
        (Before the walk: a walk that met these would take them for sources still to move.)"""
        removing = state.removing
        for top, src, dst, dev, ino in removing:
            try:
                self._remove_if_copied(top, src, dst, (dev, ino))
            except OSError as exc:
                self.ctx.error(exc, path=src)
        removing.clear()

    def _remove_if_copied(self, top: int, src: str, dst: str, ident: tuple[int, int]) -> None:
        sfd, sname = self.sides.at(SRC, top, src)
        try:
            st = os.stat(sname, dir_fd=sfd, follow_symlinks=False)
        except FileNotFoundError:
            return  # removed before the crash
        if (st.st_dev, st.st_ino) != ident:
            self.ctx.warn("replaced since it was copied; not removed", path=src)
        elif not self._copied_as(st, sfd, sname, top, dst):
            self.ctx.warn(f"its copy is not in the destination ({dst}); the source is left where it is", path=src)
        else:
            os.fsync(self.sides.at(DST, top, dst)[0])
            self._remove_source(top, src, ident)

    def _copied_as(self, st: os.stat_result, sfd: int, sname: str, top: int, dst: str) -> bool:
        """The copy at ``dst`` is the source's: the same kind and target, content or device."""
        dfd, name = self.sides.at(DST, top, dst)
        got = cf.lstat_at(dfd, name)
        if got is None or stat.S_IFMT(got.st_mode) != stat.S_IFMT(st.st_mode):
            return False
        if stat.S_ISLNK(st.st_mode):
            return os.readlink(sname, dir_fd=sfd) == os.readlink(name, dir_fd=dfd)
        if stat.S_ISREG(st.st_mode):
            return cf.same_content(sname, dfd, name, src_dfd=sfd)
        return got.st_rdev == st.st_rdev
