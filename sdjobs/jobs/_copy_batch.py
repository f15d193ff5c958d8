"""copy's small files: a batch of them, copied in a worker process of the pool."""

from __future__ import annotations

import os
import time

from ..fs import copyfile as cf

BATCH_SECONDS = 0.25  # a worker hands back what it did not get to by then: pauses stay prompt on slow disks


def copy_batch(task: tuple) -> tuple:
    """Copy a batch of small files (each with ``copyfile.copy_whole``).

    ``task`` is (job id, verify, move, replace, [(src, dst)]). Returns (files
    copied, bytes, last source, [(src, dst, (errno, message))], the files not
    started within BATCH_SECONDS or None). A full destination ends the batch:
    the rest would fail the same way."""
    job_id, verify, move, replace, files = task
    done = nbytes = 0
    last = None
    problems = []
    copy = cf.copy_whole
    deadline = time.monotonic() + BATCH_SECONDS
    for i, (src, dst) in enumerate(files):
        if i and time.monotonic() > deadline:
            return (done, nbytes, last, problems, files[i:])
        try:
            n = copy(src, dst, job_id, verify=verify, replace=replace)
            if move:
                os.unlink(src)
        except OSError as exc:
            problems.append((src, dst, (exc.errno or 0, exc.strerror or str(exc))))
            if exc.errno in cf.NO_SPACE:
                break
            continue
        done += 1
        nbytes += n
        last = src
    return (done, nbytes, last, problems, None)
