"""Is the process that holds a job still there? pids, start times, leases."""

from __future__ import annotations

import os


def _lease() -> float:
    """``$SDJOBS_LEASE_SECONDS`` (tests shorten it; every host of a library should agree), else 15."""
    try:
        value = float(os.environ.get("SDJOBS_LEASE_SECONDS", "") or 15.0)
    except ValueError:
        return 15.0
    return value if value > 0 else 15.0


LEASE_SECONDS = _lease()  # a runner on another host whose heartbeat is older than this is gone


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a reused pid from the original)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name may contain spaces and parentheses: split after the last ')'
    fields = data[data.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else None


def pid_alive(pid: int | None, start: str | None = None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if start is not None:
        now = process_start(pid)
        if now is not None and now != start:
            return False
        if now is not None:
            try:  # a zombie (dead, not yet reaped by its parent) is gone for our purposes
                with open(f"/proc/{pid}/stat", "rb") as f:
                    data = f.read()
                if data[data.rfind(b")") + 2:].split()[0] == b"Z":
                    return False
            except OSError:
                return False
    return True
