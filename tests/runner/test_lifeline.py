"""runner/lifeline.py: a process dies with its parent, and asking for it costs no process of its own."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")


def test_die_with_parent_starts_no_process():
    """ctypes.util.find_library ran `/sbin/ldconfig -p` (a fork and exec) in every job process."""
    code = textwrap.dedent("""
        import os, sys
        started = []
        sys.addaudithook(lambda event, args: event in ("subprocess.Popen", "os.posix_spawn", "os.exec")
                         and started.append((event, args)))
        from sdjobs.runner import lifeline
        lifeline.die_with_parent(os.getppid())
        assert lifeline._prctl() is not None, "no prctl found"
        print(started)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def test_a_child_dies_with_its_parent(tmp_path):
    """A parent forks a child that calls die_with_parent, then is SIGKILLed: the child is killed too."""
    pidfile = tmp_path / "child"
    code = textwrap.dedent(f"""
        import os, time
        from sdjobs.runner import lifeline
        parent = os.getpid()
        if os.fork() == 0:
            lifeline.die_with_parent(parent)
            open({str(pidfile)!r}, "w").write(str(os.getpid()))
            time.sleep(60)
            os._exit(0)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text()):
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.02)
        child = int(pidfile.read_text())
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while alive(child):
            assert time.monotonic() < deadline, f"child {child} outlived its parent"
            time.sleep(0.02)
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
