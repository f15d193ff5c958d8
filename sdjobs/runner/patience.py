"""Waiting out a library whose server is out of reach (PostgreSQL down, restarting, a network
cut): ``LibraryUnreachable``, unlike a damaged SQLite file, may pass.

The runner keeps its loop and its job processes through an outage and says so once in its
log; a job's own reads and writes (its checkpoint, its control checks, its finish) are
retried for ``PATIENCE`` seconds, after which the job process ends with ``OUTAGE_EXIT``: not a
crash (no attempt is counted), and the job resumes from its checkpoint once the library is
back. The trailer's progress writes are not retried here: they are taken again a moment
later anyway (core/context.py).

A verb retried after a commit whose answer was lost may have taken effect: writes of progress
and checkpoints are idempotent, a finish is fenced by its claim (the second one finds the job
finished and changes nothing), and an event may be recorded twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

from ..store.library import LibraryUnreachable

T = TypeVar("T")

PATIENCE = float(os.environ.get("SDJOBS_OUTAGE_PATIENCE", "") or 120.0)  # seconds a job waits for its library
OUTAGE_EXIT = 75  # EX_TEMPFAIL: a job process that gave up waiting for its library


def patiently(call: Callable[..., T], *args, **kwargs) -> T:
    """``call(*args, **kwargs)``, tried again while the library is out of reach, for up to
    ``PATIENCE`` seconds (then LibraryUnreachable goes up)."""
    deadline = None
    delay = 0.1
    while True:
        try:
            return call(*args, **kwargs)
        except LibraryUnreachable:
            now = time.monotonic()
            if deadline is None:
                deadline = now + PATIENCE
            elif now >= deadline:
                raise
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 2, 2.0)
