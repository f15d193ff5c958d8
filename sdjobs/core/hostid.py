"""Which host this process runs on, as the library records it (issue 18: one library, several hosts).

``$SDJOBS_HOST`` names the host when set (tests, containers, a machine whose id is cloned);
otherwise the machine's stable id (``/etc/machine-id``, kept across reboots and renames),
else its hostname. A host's *name* for display is its hostname (``host_name``).
"""

from __future__ import annotations

import functools
import os

ENV_VAR = "SDJOBS_HOST"


def this_host() -> str:
    """The id under which this host's runners, jobs and locations are recorded."""
    named = os.environ.get(ENV_VAR, "").strip()
    return named or _machine_id()


@functools.cache
def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, encoding="ascii") as f:
                mid = f.read().strip()
        except (OSError, UnicodeDecodeError):
            continue
        if mid:
            return mid
    return _hostname()


def host_name() -> str:
    """A name for people: ``$SDJOBS_HOST`` when set, else the hostname."""
    return os.environ.get(ENV_VAR, "").strip() or _hostname()


def _hostname() -> str:
    import socket  # (imported here: a short command that needs no hostname skips its import)

    return socket.gethostname()
