"""The attacker: a second, unprivileged uid, and the arena it shares with root.

These tests run as root (as CI does) and create the user ``sdjobs-attacker`` when it is
missing; elsewhere they are skipped with a message. The arena is a folder under /tmp that
both can enter: ``outside/`` is root's (what must never change), ``dst/`` is the attacker's
(a destination others can write, like a shared folder or a download folder).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ATTACKER = "sdjobs-attacker"


@pytest.fixture(scope="session")
def attacker() -> tuple[int, int]:
    """(uid, gid) of the unprivileged attacker, created if missing."""
    if os.geteuid() != 0:
        pytest.skip("the attacker suite needs root: it creates a second user and runs sdjobs as root against it")
    try:
        pw = pwd.getpwnam(ATTACKER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", ATTACKER], check=True)
        pw = pwd.getpwnam(ATTACKER)
    return pw.pw_uid, pw.pw_gid


@pytest.fixture
def arena(attacker):
    """A folder both users can enter: outside/ (root's, with content), dst/ and src/."""
    uid, gid = attacker
    top = Path(tempfile.mkdtemp(prefix="sdjobs-sec-", dir="/tmp"))
    os.chmod(top, 0o755)
    outside = top / "outside"
    (outside / "deep").mkdir(parents=True)
    for d in (outside, outside / "deep"):
        os.chmod(d, 0o755)
    (outside / "secret").write_bytes(b"root only\n")
    os.chmod(outside / "secret", 0o600)
    (outside / "payload.bin").write_bytes(b"outside's own payload.bin\n")
    (outside / "deep" / "f0").write_bytes(b"outside's own f0\n")
    dst = top / "dst"
    dst.mkdir()
    os.chown(dst, uid, gid)
    os.chmod(dst, 0o755)
    (top / "src").mkdir()
    yield top
    shutil.rmtree(top, ignore_errors=True)


def manifest(root: Path) -> dict:
    """path -> (type and mode, uid, gid, content hash or link target), never following links."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            else:
                what = ""
            out[os.path.relpath(p, root)] = (oct(st.st_mode), st.st_uid, st.st_gid, what)
    return out


def as_user(uid: int, gid: int) -> None:
    """In a forked child: become the attacker for good."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


class Attacker:
    """A forked child running ``loop(step)`` as the attacker until stopped; counts the steps
    that did something (``loop`` returns True)."""

    def __init__(self, uid: int, gid: int, step) -> None:
        self.read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover (the child)
            os.close(self.read)
            count = 0
            stop = []
            signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
            try:
                as_user(uid, gid)
                while not stop:
                    try:
                        if step():
                            count += 1
                    except OSError:
                        pass
            finally:
                os.write(write, str(count).encode())
                os._exit(0)
        os.close(write)

    def stop(self) -> int:
        os.kill(self.pid, signal.SIGTERM)
        os.waitpid(self.pid, 0)
        data = os.read(self.read, 64)
        os.close(self.read)
        return int(data or b"0")


def swapper(folder: Path, names: list[str], target: Path):
    """A step that swaps each of ``names`` in ``folder`` between what sdjobs put there and a
    symlink to ``target`` (and back): one swap per call that found something to swap."""
    state = {"i": 0}

    def step() -> bool:
        name = names[state["i"] % len(names)]
        state["i"] += 1
        p = os.path.join(folder, name)
        hidden = os.path.join(os.path.dirname(p), ".hidden-" + os.path.basename(p))
        if os.path.islink(p):
            os.unlink(p)
            if os.path.lexists(hidden):
                os.rename(hidden, p)
            return True
        if os.path.isdir(p):
            os.rename(p, hidden)
            os.symlink(target, p)
            return True
        if not os.path.lexists(p):
            os.symlink(target, p)  # before sdjobs makes it
            return True
        return False

    return step


def wait_swaps(att: Attacker, seconds: float = 0.2) -> None:
    time.sleep(seconds)  # let the attacker get going before the operation starts
