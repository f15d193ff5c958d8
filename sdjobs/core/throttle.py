"""A job's own reading slowed to the library's ``bwlimit`` setting (bytes per second), for
jobs that read in their own thread; pool workers pace themselves with the schedule the job
hands out with each batch (``jobs/dupes/hashing.Pacer``)."""

from __future__ import annotations

import time


def throttle(ctx, started: float, nbytes: int) -> None:
    limit = ctx.settings().get("bwlimit")
    if limit:
        wait = nbytes / float(limit) - (time.monotonic() - started)
        if wait > 0:
            time.sleep(min(wait, 5.0))
