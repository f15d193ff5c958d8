"""A runner's doorbell: a command that queued a job rings it, and the runner claims at once.

An idle runner looks at the library every IDLE_WAIT (supervisor.py: ``PRAGMA data_version``,
microseconds each); a job queued just after a look waited for the next one, 10 ms on average
on a served one-file copy of 80. The runner therefore binds a datagram socket, ``runner.bell``
in the library's local data folder (a folder only its owner can enter), and sleeps on it with
its job processes' pipes. A command rings it once its job is committed (``ring``): one
datagram, no reply awaited, nothing said. The runner only wakes and looks at the library as
it would have a moment later, so a ring can be lost, refused or forged at no cost: no bell
(a runner of another host, an older runner, a folder it could not bind in), a full queue, a
stale socket of a runner that died. The periodic look stays as the fallback.
"""

from __future__ import annotations

import os
import socket

BELL = "runner.bell"


def _path(fd: int) -> str:
    # Through /proc/self/fd: AF_UNIX paths are limited to 108 bytes, a data folder's is not.
    return f"/proc/self/fd/{fd}/{BELL}"


class Doorbell:
    """The runner's end: bound in ``folder`` under a name of its own, then renamed over
    ``runner.bell`` (a stale bell is replaced; a ringer never meets a half-made one)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
            try:
                temp = f"{_path(fd)}.{os.getpid()}"
                self.sock.bind(temp)
                os.chmod(temp, 0o600)
                self.inode = os.stat(temp).st_ino
                os.rename(temp, _path(fd))
            finally:
                os.close(fd)
        except BaseException:
            self.sock.close()
            raise
        self.sock.setblocking(False)

    def drain(self) -> int:
        """Take the rings waiting (their content means nothing); how many there were."""
        n = 0
        while True:
            try:
                self.sock.recv(64)
            except (BlockingIOError, InterruptedError):
                return n
            except OSError:
                return n
            n += 1

    def close(self) -> None:
        """Unbind: remove ``runner.bell`` if it is still this runner's."""
        path = os.path.join(self.folder, BELL)
        try:
            if os.stat(path).st_ino == self.inode:
                os.unlink(path)
        except OSError:
            pass
        self.sock.close()


def open_bell(folder: str) -> Doorbell | None:
    """The runner's doorbell, or None where it cannot be had (the runner then only polls)."""
    if not (hasattr(os, "O_PATH") and hasattr(socket, "AF_UNIX") and os.path.isdir("/proc/self/fd")):
        return None
    try:
        return Doorbell(folder)
    except OSError:
        return None


def ring(folder: str) -> bool:
    """Wake the runner whose bell is in ``folder``, if one is there; True if the ring was sent.
    Never raises, never waits."""
    try:
        fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    except (OSError, AttributeError):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto(b"!", _path(fd))
        return True
    except OSError:  # no bell, a dead runner's, a full queue: the runner's own look finds the job
        return False
    finally:
        os.close(fd)
