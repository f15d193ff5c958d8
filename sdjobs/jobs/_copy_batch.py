"""copy's small files: a batch of them, copied in a worker process of the pool."""

from __future__ import annotations

import os
import time

from ..fs import copyfile as cf
from ..fs.beneath import DirCache

BATCH_SECONDS = 0.25  # a worker hands back what it did not get to by then: pauses stay prompt on slow disks


def copy_batch(task: tuple) -> tuple:
    """Copy a batch of small files (each with ``copyfile.copy_whole``).

    ``task`` is (token, verify, move, replace, roots, [(src, dst, top)]):
    ``dst`` is resolved beneath ``roots[top]`` without following symlinks (a
    directory cache for the batch). Returns (files copied, bytes, last source,
    [(src, dst, (errno, message))], the files not started within BATCH_SECONDS
    or None). A full destination ends the batch: the rest would fail the same way.
    With ``move``, the sources are removed at the end of the batch, once their
    copies and directories are synced."""
    token, verify, move, replace, roots, files = task
    done = nbytes = 0
    last = None
    problems = []
    moved: list[tuple[str, int, str]] = []  # (source, top, destination directory)
    caches: dict[int, DirCache] = {}
    copy = cf.copy_whole
    deadline = time.monotonic() + BATCH_SECONDS
    rest = None
    try:
        for i, (src, dst, top) in enumerate(files):
            if i and time.monotonic() > deadline:
                rest = files[i:]
                break
            try:
                dirs = caches.get(top) or caches.setdefault(top, DirCache(roots[top]))
                head, _, name = dst.rpartition("/")
                dfd = dirs.fd(head)
                n = copy(src, dfd, name, token, verify=verify, replace=replace, durable=move)
            except OSError as exc:
                problems.append((src, dst, (exc.errno or 0, exc.strerror or str(exc))))
                if exc.errno in cf.NO_SPACE:
                    break
                continue
            if move:
                moved.append((src, top, head))
            done += 1
            nbytes += n
            last = src
        if moved:
            try:
                for top, head in {(top, head) for _, top, head in moved}:
                    os.fsync(caches[top].fd(head))  # the new names are durable before a source goes
            except OSError as exc:
                moved = []
                problems.append((last, last, (exc.errno or 0, f"copied, but not synced, so no source of this batch"
                                              f" was removed: {exc.strerror}")))
            for src, _, _ in moved:
                try:
                    os.unlink(src)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    problems.append((src, src, (exc.errno or 0, f"copied, but the source was not removed: {exc.strerror}")))
    finally:
        for dirs in caches.values():
            dirs.close()
    return (done, nbytes, last, problems, rest)
