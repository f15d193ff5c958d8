"""copy's small files: a batch of them, copied in a worker process of the pool."""

from __future__ import annotations

import os
import time

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


def copy_batch(task: tuple) -> tuple:
    """Copy a batch of small files (each with ``copyfile.copy_whole``).

    ``task`` is (token, verify, move, replace, dst roots, src roots, [(src, dst, top)]).
    Returns (files copied, bytes, last source, [(src, dst, (errno, message))],
    the files not started within BATCH_SECONDS or None). A full destination
    ends the batch: the rest would fail the same way. With ``move``, the
    sources are removed at the end of the batch, once their copies and
    directories are synced."""
    token, verify, move, replace, dst_roots, src_roots, files = task
    done = nbytes = 0
    last = None
    problems = []
    moved: list[tuple[str, int, str, os.stat_result]] = []  # (source, top, destination, its stat)
    sides = Sides(src_roots, dst_roots)
    if TEST_DELAY:
        time.sleep(TEST_DELAY)
    deadline = time.monotonic() + BATCH_SECONDS
    rest = None
    try:
        for i, (src, dst, top) in enumerate(files):
            if i and time.monotonic() > deadline:
                rest = files[i:]
                break
            try:
                sfd, sname = sides.at(SRC, top, src)
                dfd, name = sides.at(DST, top, dst)
                n, st = cf.copy_whole(sname, dfd, name, token, verify=verify, replace=replace, durable=move,
                                      src_dfd=sfd)
            except OSError as exc:
                problems.append((src, dst, (exc.errno or 0, exc.strerror or str(exc))))
                if exc.errno in cf.NO_SPACE:
                    break
                continue
            if move:
                moved.append((src, top, dst, st))
            done += 1
            nbytes += n
            last = src
        if moved:
            _remove_moved(sides, moved, problems)
    finally:
        sides.close()
    return (done, nbytes, last, problems, rest)


def _remove_moved(sides: Sides, moved: list, problems: list) -> None:
    try:
        for top, head in {(top, dst.rpartition("/")[0]) for _, top, dst, _ in moved}:
            os.fsync(sides.dir(DST, top, head))  # the new names are durable before a source goes
    except OSError as exc:
        problems.append((moved[-1][0], moved[-1][2], (exc.errno or 0, "copied, but not synced, so no source of"
                                                      f" this batch was removed: {exc.strerror}")))
        return
    for src, top, dst, st in moved:
        try:
            sfd, sname = sides.at(SRC, top, src)
            cf.remove_source(sfd, sname, st)
        except FileNotFoundError:
            pass
        except OSError as exc:
            problems.append((src, dst, (exc.errno or 0, f"copied, but the source was not removed: {exc.strerror}")))
