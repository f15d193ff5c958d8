"""A process that works for another dies with it.

A job process must not outlive its runner, nor a fan-out worker (or the
indexer's writer) its job process: once the runner is gone, another runner
may claim the job and run it a second time. ``die_with_parent`` asks the
kernel for SIGKILL when the parent goes (``PR_SET_PDEATHSIG``), then checks
that the parent is still the expected one: a parent that died between the
fork and the ``prctl`` call would send no signal.

The kernel sends the signal when the *thread* that forked the process ends:
fork from a thread that lives as long as the parent needs the child (the
main thread: the fan-out's pool, ``runner/pool.py``, is forked by the thread of
the job's first map of two chunks, the job's main thread).

Linux only; elsewhere this does nothing, and the fencing of the job's writes
(``Store.claim``) still keeps a stray process from recording anything.
"""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1

_prctl_fn = None  # prctl, once looked up
_looked_up = False


def _prctl():
    """libc's ``prctl``: from the symbols this process already has (``CDLL(None)``), else from
    ``libc.so.6``; None where there is none. (Not ``ctypes.util.find_library``: it runs
    ``/sbin/ldconfig -p``, a fork and exec in every job process.)"""
    global _prctl_fn, _looked_up
    if not _looked_up:
        _looked_up = True
        for name in (None, "libc.so.6"):
            try:
                _prctl_fn = getattr(ctypes.CDLL(name, use_errno=True), "prctl", None)
            except OSError:
                continue
            if _prctl_fn is not None:
                break
    return _prctl_fn


def die_with_parent(expected_parent: int) -> None:
    """Call first thing after fork: SIGKILL this process when its parent dies.

    ``expected_parent`` is the pid of the process that forked this one (taken before the
    fork); if the parent is already someone else, it has died: exit at once."""
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != expected_parent:
        os._exit(1)
