"""`sdjobs runner` in the foreground logs one line per job start, end and interruption."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from conftest import submit, wait_for


def lines_of(proc) -> list[str]:
    return [line for line in proc.stdout.read().splitlines() if line.strip()]


def test_one_line_per_start_finish_and_failure(lib, store):
    ok = submit(store, "test-steps", {"steps": 2})
    bad = submit(store, "test-steps", {"steps": 2, "fail_at": 1})
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "runner", "--exit-when-idle", "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.wait(60) == 0
    lines = lines_of(proc)
    assert any(line.startswith(f"job {ok} started: test-steps") for line in lines), lines
    assert any(line.startswith(f"job {ok} completed in ") for line in lines), lines
    assert any(line.startswith(f"job {bad} started") for line in lines), lines
    failed = [line for line in lines if line.startswith(f"job {bad} failed after ")]
    assert len(failed) == 1 and ": " in failed[0], lines
    assert not any("\x1b[" in line for line in lines)   # plain lines for a journal


def test_interruption_is_logged(lib, store):
    job = submit(store, "test-steps", {"steps": 400, "delay": 0.05})
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "runner", "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(lambda: store.get(job).status == "running", what="running")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = lines_of(proc)
    assert any(line.startswith(f"job {job} started") for line in lines), lines
    assert any(line.startswith(f"job {job} interrupted") for line in lines), lines
