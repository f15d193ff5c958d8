"""A process that works for another dies with it.

A job process must not outlive its runner, nor a fan-out worker (or the
indexer's writer) its job process: once the runner is gone, another runner
may claim the job and run it a second time. ``die_with_parent`` asks the
kernel for SIGKILL when the parent goes (``PR_SET_PDEATHSIG``), then checks
that the parent is still the expected one: a parent that died between the
fork and the ``prctl`` call would send no signal.

The kernel sends the signal when the *thread* that forked the process ends:
fork from a thread that lives as long as the parent needs the child (the
main thread; a ``multiprocessing.Pool`` forks a replacement worker from its
handler thread, which lives as long as the pool).

Linux only; elsewhere this does nothing, and the fencing of the job's writes
(``Store.claim``) still keeps a stray process from recording anything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal

PR_SET_PDEATHSIG = 1

_libc: ctypes.CDLL | bool | None = None  # False: no libc to load


def _prctl():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        except OSError:
            _libc = False
    return getattr(_libc, "prctl", None) if _libc else None


def die_with_parent(expected_parent: int) -> None:
    """Call first thing after fork: SIGKILL this process when its parent dies.

    ``expected_parent`` is the pid of the process that forked this one (taken before the
    fork); if the parent is already someone else, it has died: exit at once."""
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(1)
