"""`sdjobs dash` as a user starts it: the real command in a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time


def test_bad_input_is_refused_before_the_screen_opens(cli):
    proc = cli("dash", "--job", "4242")
    assert proc.returncode == 2 and "no job 4242" in proc.stderr
    proc = cli("dash", "--theme", "no-such-theme")
    assert proc.returncode == 2 and "unknown theme" in proc.stderr


def test_dash_runs_in_a_terminal_and_quits_with_q(lib, store):
    store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"}, context={"argv": ["sdjobs", "copy", "a", "b"]})
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "dash"], stdin=slave, stdout=slave, stderr=slave,
                            env={**os.environ, "TERM": "xterm-256color"}, start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 20
        needles = (b"queued", b"copy", b"no runner")
        while not all(n in seen for n in needles) and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert all(n in seen for n in needles), seen[-2000:]
        os.write(master, b"q")
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_without_a_terminal_it_says_so_in_one_line_and_exits_2(cli, store):
    proc = cli("dash", timeout=20)
    assert proc.returncode == 2, proc
    assert proc.stderr.count("\n") == 1 and "needs a terminal" in proc.stderr, proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr
