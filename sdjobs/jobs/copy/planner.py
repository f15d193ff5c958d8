"""copy's planner: what to do with each walked entry, and the batches of small files.

The copy phase walks the sources once; for each entry the job decides where it
goes (the conflict policy: ``Copy._where``) and what to do with it
(``what_to_do``), then carries that out (``Copy._execute``). Small files are
not copied there but gathered into batches for the worker pool (``Batcher``).
A resumed run walks the tree again and counts only what an earlier run had not
reached (``Recount``).
"""

from __future__ import annotations

import enum
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterator

from ...fs import copyfile as cf
from .batch import BatchTask
from .state import CopyState
from .walk import Entry

SMALL = 8 * 1024 * 1024  # files below this go to the worker pool whole
BATCH_FILES = 256  # small files per fan-out item: one result, one progress update, one checkpoint
BATCH_BYTES = 32 * 1024 * 1024
READY_AHEAD = 64  # batches prepared ahead of the pool, so that large files further on start early
START_AT_ONCE = 4  # but the first few go out at once: progress, a rate and an ETA from the first second
PULL_SECONDS = 0.004  # and the pool, once it asks for a batch, waits no longer than this for one


class Do(enum.Enum):
    """What the copy does with one entry (that has a destination: see ``Copy._where``)."""

    DIR = "dir"  # make the directory (its times and mode are set at the end)
    HARDLINK = "hardlink"  # another name of a file copied already: link to that copy
    SMALL = "small"  # into a batch for the worker pool
    LARGE = "large"  # to the large-file thread, copied in checkpointed chunks
    HERE = "here"  # copied in the job's thread: a file with other names, or any file under --bwlimit
    SYMLINK = "symlink"
    SPECIAL = "special"  # a fifo or device node, made anew
    UNSUPPORTED = "unsupported"  # a special file that cannot be copied (a socket, say): a warning


def what_to_do(st: os.stat_result, *, linked: bool, throttled: bool) -> Do:
    """``linked``: a regular file whose inode was copied already under another name;
    ``throttled``: a bandwidth limit is set (every file is then copied in the job's thread)."""
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return Do.DIR
    if stat.S_ISREG(mode):
        if linked:  # (a move may have unlinked the first name already, so nlink is no guide here)
            return Do.HARDLINK
        if throttled or st.st_nlink != 1:
            return Do.HERE
        return Do.SMALL if st.st_size < SMALL else Do.LARGE
    if stat.S_ISLNK(mode):
        return Do.SYMLINK
    if cf.special_problem(st) is not None:
        return Do.UNSUPPORTED
    return Do.SPECIAL


def inode_key(st: os.stat_result) -> str:
    """The key of a hard-linked file's inode in the job's link map."""
    return f"{st.st_dev}:{st.st_ino}"


class Batcher:
    """Small files gathered into batches for the pool: a batch is ready at BATCH_FILES files or
    BATCH_BYTES. The first START_AT_ONCE ready batches go out at once (progress, a rate and an
    ETA from the first second); after that, up to READY_AHEAD wait, so that the walk gets ahead
    of the pool and large files further on start early.

    The walk gets ahead only while the pool is busy: the batches are a generator the pool
    pulls when it wants one, so a pull that has waited PULL_SECONDS takes a ready batch even
    if fewer than READY_AHEAD wait. (Without that, the workers sat idle while the job walked
    READY_AHEAD batches ahead: 64 x 256 files, a fifth of a second on the bench tree.)"""

    def __init__(self, opts: BatchTask, clock: Callable[[], float] = time.monotonic) -> None:
        self.opts = opts  # how every batch is copied (its own files aside)
        self.files: list[tuple[str, str, int, int, bool]] = []
        self.nbytes = 0
        self.ready: deque[BatchTask] = deque()
        self.sent = 0
        self.clock = clock
        self.pulled = clock()  # when the pool last asked for a batch (this generator resumed)

    def add(self, src: str, dst: str, top: int, size: int, mine: bool = True) -> None:
        """``mine``: this run counted the file ahead (copy/books.py)."""
        self.files.append((src, dst, top, size, mine))
        self.nbytes += size
        if len(self.files) >= BATCH_FILES or self.nbytes >= BATCH_BYTES:
            self.ready.append(self.opts._replace(files=self.files))
            self.files, self.nbytes = [], 0

    def is_due(self) -> bool:
        """A batch is to be handed out now (asked once an entry: cheaper than ``due``'s generator)."""
        ready = self.ready
        return bool(ready) and (len(ready) > READY_AHEAD or self.sent < START_AT_ONCE
                                or self.clock() - self.pulled > PULL_SECONDS)

    def due(self) -> Iterator[BatchTask]:
        """The batches to hand out now."""
        while self.is_due():
            self.sent += 1
            yield self.ready.popleft()
            self.pulled = self.clock()

    def rest(self) -> Iterator[BatchTask]:
        """Every batch still here, the last one partly filled: the walk is over."""
        yield from self.ready
        if self.files:
            yield self.opts._replace(files=self.files)


class Recount:
    """Which walked entries this run counts.

    The walk's own counts (directories, skipped, renamed, links, and the files
    it handed out: copy/books.py) were taken by an earlier run up to the entry it
    had reached (``state["walked"]``): a
    resume, which walks the tree again, counts only what lies beyond (a
    --move's moved files are gone from the walk, not from the counts). The
    point never moves back: a run paused before it keeps it.
    """

    def __init__(self, state: CopyState | dict, sources: list[str], resumed: bool) -> None:
        self.state = state
        self.sources = sources
        counted = state.get("walked") if resumed else None
        self._upto = self.key(*counted) if counted else None  # counted by an earlier run up to here

    def counting(self, e: Entry) -> bool:
        """(Once an entry: a CopyState's attribute is set, not its item by key, which costs more.)"""
        if self._upto is not None:
            if self.key(e.top, e.src) <= self._upto:
                return False
            self._upto = None
        if isinstance(self.state, CopyState):
            self.state.walked = [e.top, e.src]
        else:
            self.state["walked"] = [e.top, e.src]
        return True

    def key(self, top: int, src: str) -> tuple[int, list[str]]:
        """An entry's place in the walk's order (pre-order, names sorted), the same in every run."""
        return top, src[len(self.sources[top]):].split("/")
