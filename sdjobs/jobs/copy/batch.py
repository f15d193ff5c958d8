"""copy's small files: a batch of them, copied in a worker process of the pool."""

from __future__ import annotations

import os
import time
from typing import NamedTuple

from ...fs import copyfile as cf
from ...fs.beneath import DirCache

BATCH_SECONDS = 0.25  # a worker hands back what it did not get to by then: pauses stay prompt on slow disks
TEST_DELAY = float(os.environ.get("SDJOBS_COPY_TEST_DELAY") or 0)  # tests: each batch takes this long more


class Sides:
    """Directory descriptors of the sources and destinations of one batch, resolved beneath
    ``roots[top]`` (the parents the user named), never through a symlink."""

    def __init__(self, src_roots: list[str], dst_roots: list[str]) -> None:
        self.roots = (src_roots, dst_roots)
        self.caches: dict[tuple[int, int], DirCache] = {}

    def dir(self, side: int, top: int, path: str) -> int:
        """A descriptor of directory ``path`` (kept open by the cache: do not close it)."""
        dirs = self.caches.get((side, top))
        if dirs is None:
            dirs = self.caches[(side, top)] = DirCache(self.roots[side][top])
        return dirs.fd(path or "/")

    def at(self, side: int, top: int, path: str) -> tuple[int, str]:
        """(descriptor of its directory, name) for ``path``."""
        head, _, name = path.rpartition("/")
        return self.dir(side, top, head), name

    def close(self) -> None:
        for dirs in self.caches.values():
            dirs.close()


SRC, DST = 0, 1


class Failure(NamedTuple):
    """An OSError in a form that crosses from a worker process or a thread to the job's thread."""

    errno: int
    message: str

    @classmethod
    def of(cls, exc: OSError) -> Failure:
        return cls(exc.errno or 0, exc.strerror or str(exc))

    def error(self) -> OSError:
        return OSError(self.errno, self.message)


class Problem(NamedTuple):
    """A file of a batch that was not copied (or, with --move, whose source was not removed)."""

    src: str
    dst: str
    failure: Failure


class FileResult(NamedTuple):
    """One file copied (or not) outside the pool: in the large-file thread or the job's thread."""

    src: str
    dst: str
    nbytes: int
    failure: Failure | None
    top: int = 0
    planned: int = 0  # the size it was counted ahead with
    mine: bool = False  # counted ahead by this run (not by an earlier one)


class BatchTask(NamedTuple):
    """A batch of small files for a worker of the pool, and how to copy them."""

    token: str  # the job's temp-name token
    verify: bool
    move: bool
    replace: bool  # --on-conflict overwrite
    dst_roots: list[str]  # the parents of the targets, beneath which every destination is resolved
    src_roots: list[str]  # the same for the sources
    # (source, destination, top, the size it was counted ahead with, whether this run counted it)
    files: list[tuple[str, str, int, int, bool]]


class BatchResult(NamedTuple):
    done: int  # files copied
    nbytes: int
    last: str | None  # the last source copied (for progress)
    problems: list[Problem]
    rest: list[tuple[str, str, int, int, bool]] | None  # the files not started within BATCH_SECONDS
    planned: int  # the sizes the files copied were counted ahead with (``nbytes`` less this: what changed)
    ahead: int  # the sizes of the files settled (copied or missed) that this run counted ahead
    missed: list[tuple[int, str, int]]  # (top, source, size) of each file counted ahead and not copied


def copy_batch(task: BatchTask) -> BatchResult:
    """Copy a batch of small files (each with ``copyfile.copy_whole``).

    A worker hands back the files it did not start within BATCH_SECONDS
    (``rest``). A full destination ends the batch: the rest would fail the
    same way. With ``move``, the sources are removed at the end of the batch,
    once their copies and directories are synced."""
    token, verify, move, replace, dst_roots, src_roots, files = task
    done = nbytes = planned = ahead = 0
    last = None
    problems: list[Problem] = []
    missed: list[tuple[int, str, int]] = []
    moved: list[tuple[str, int, str, os.stat_result]] = []  # (source, top, destination, its stat)
    sides = Sides(src_roots, dst_roots)
    if TEST_DELAY:
        time.sleep(TEST_DELAY)
    deadline = time.monotonic() + BATCH_SECONDS
    rest = None
    heads = (None, None, None)  # (top, source directory, destination directory) of the last file
    sfd = dfd = -1  # their descriptors (a batch is mostly runs of files of one directory)
    try:
        for i, (src, dst, top, size, mine) in enumerate(files):
            if i and time.monotonic() > deadline:
                rest = files[i:]
                break
            ahead += size if mine else 0
            shead, _, sname = src.rpartition("/")
            dhead, _, name = dst.rpartition("/")
            try:
                if heads != (top, shead, dhead):
                    heads = (None, None, None)
                    sfd = sides.dir(SRC, top, shead)
                    dfd = sides.dir(DST, top, dhead)
                    heads = (top, shead, dhead)
                n, st = cf.copy_whole(sname, dfd, name, token, verify=verify, replace=replace,
                                      durable=move and not cf.HAVE_SYNCFS, src_dfd=sfd)
            except OSError as exc:
                problems.append(Problem(src, dst, Failure.of(exc)))
                missed.append((top, src, size))
                if exc.errno in cf.NO_SPACE:
                    missed += [(t, s, z) for s, _d, t, z, _m in files[i + 1:]]  # not tried: the rest would fail so
                    ahead += sum(z for _s, _d, _t, z, m in files[i + 1:] if m)
                    break
                continue
            if move:
                moved.append((src, top, dst, st))
            done += 1
            nbytes += n
            planned += size
            last = src
        if moved:
            _remove_moved(sides, moved, problems)
    finally:
        sides.close()
    return BatchResult(done, nbytes, last, problems, rest, planned, ahead, missed)


def _remove_moved(sides: Sides, moved: list, problems: list[Problem]) -> None:
    try:
        sync_copies(sides, {(top, dst.rpartition("/")[0]) for _, top, dst, _ in moved})
    except OSError as exc:
        problems.append(Problem(moved[-1][0], moved[-1][2], Failure(exc.errno or 0, "copied, but not synced, so no"
                                                                    f" source of this batch was removed: {exc.strerror}")))
        return
    for src, top, dst, st in moved:
        try:
            sfd, sname = sides.at(SRC, top, src)
            cf.remove_source(sfd, sname, (st.st_dev, st.st_ino))
        except FileNotFoundError:
            pass
        except OSError as exc:
            problems.append(Problem(src, dst, Failure(exc.errno or 0,
                                                      f"copied, but the source was not removed: {exc.strerror}")))


def sync_copies(sides: Sides, folders: set[tuple[int, str]]) -> None:
    """Make the copies in ``folders`` ((top, destination folder) pairs) durable, data and new
    names, before any source goes: one syncfs of each filesystem they are on, where syncfs
    reports write-back errors (else each file was synced as it was copied, and each folder is
    here; the job's own thread, copy/removals.py, uses it too). A fsync of each file cost a journal
    commit each, and the job's other creates waited on them: a --move of 3,000 small files and
    5,000 symlinks from tmpfs to ext4 took 8.69 s with them, 4.80 s with one syncfs a batch
    (medians of 5 interleaved runs, 2026-12-07)."""
    fds = [sides.dir(DST, top, head) for top, head in sorted(folders)]
    if not cf.HAVE_SYNCFS:
        for fd in fds:
            os.fsync(fd)
        return
    synced: set[int] = set()
    for fd in fds:
        dev = os.fstat(fd).st_dev
        if dev not in synced:
            synced.add(dev)
            cf.sync_filesystem(fd)
