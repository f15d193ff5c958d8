"""`jobs follow`, `jobs resume --follow` and `jobs wait --json`: watch any job, detach with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import submit, wait_for


def sdjobs(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sdjobs", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def holding(path) -> set[int]:
    """The processes with ``path`` open (the follower, or the command a server forked for it)."""
    out = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd")):
                out.add(int(pid))
        except OSError:
            pass
    return out


def test_ctrl_c_detaches_from_a_followed_job_which_keeps_running(cli, store, lib, start_runner):
    start_runner("--workers", "1")
    job = submit(store, "test-steps", {"steps": 200, "delay": 0.05})
    wait_for(lambda: (store.get(job).progress.done or 0) >= 2, what="the job to run")
    before = holding(lib)
    follower = sdjobs("jobs", "follow", job)
    # it has started following once a new process has the library open (a fixed sleep was too
    # short under load: the Ctrl-C landed in the imports), and a moment more to read the job
    wait_for(lambda: holding(lib) - before, what="the follower to open the library")
    time.sleep(0.5)
    assert follower.poll() is None, follower.communicate()
    follower.send_signal(signal.SIGINT)
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 130, err
    assert f"detached; job {job} keeps running: sdjobs jobs follow {job}" in err
    rec = store.get(job)
    assert rec.status == "running" and rec.control is None  # not paused, nor asked to
    assert not store.events(job, kinds=["pause-requested"])
    cli("jobs", "cancel", job, check=True)


def test_follow_of_a_finished_job_prints_its_outcome_and_exits_with_its_code(cli, store, start_runner):
    start_runner("--workers", "1")
    ok = submit(store, "test-steps", {"steps": 3, "delay": 0})
    bad = submit(store, "test-steps", {"steps": 5, "delay": 0, "fail_at": 2})
    assert cli("jobs", "wait", ok, bad, timeout=60).returncode == 1
    done = cli("jobs", "follow", ok)
    assert done.returncode == 0 and f"test-steps job {ok} completed" in done.stderr
    failed = cli("jobs", "follow", bad, "--json")
    assert failed.returncode == 1 and "failed at step 2 as asked" in failed.stderr
    assert json.loads(failed.stdout)["status"] == "failed"

    outcomes = cli("jobs", "wait", ok, bad, "--json")
    assert outcomes.returncode == 1
    by_id = {o["id"]: o for o in json.loads(outcomes.stdout)}
    assert by_id[ok]["exit_code"] == 0 and by_id[ok]["summary"] and by_id[ok]["error"] is None
    assert by_id[bad]["exit_code"] == 1 and by_id[bad]["category"] == "job"
    assert by_id[bad]["error"] == "failed at step 2 as asked"


def test_resume_follow_resumes_then_follows_to_the_end(cli, store, start_runner):
    start_runner("--workers", "1")
    from sdjobs.runner import control

    job = submit(store, "test-steps", {"steps": 60, "delay": 0.05})
    wait_for(lambda: (store.get(job).progress.done or 0) >= 2, what="the job to run")
    control.pause(store, job)  # (asked in-process: a `jobs pause` command under load came after the job's end)
    wait_for(lambda: store.get(job).status == "paused", what="paused")
    paused = cli("jobs", "follow", job)
    assert paused.returncode == 130 and f"sdjobs jobs resume {job} --follow" in paused.stderr
    resumed = cli("jobs", "resume", job, "--follow", timeout=60)
    assert resumed.returncode == 0 and f"test-steps job {job} completed" in resumed.stderr, resumed.stderr
    assert store.get(job).status == "completed"


def test_on_a_terminal_follow_shows_what_a_queued_job_waits_for_and_ctrl_c_detaches(cli, store, start_runner):
    import os
    import pty
    import select

    start_runner("--workers", "1")
    busy = submit(store, "test-steps", {"steps": 400, "delay": 0.05})
    wait_for(lambda: store.get(busy).status == "running", what="the first job to run")
    queued = submit(store, "test-steps", {"steps": 1, "delay": 0})
    pid, fd = pty.fork()
    if pid == 0:  # the child: `sdjobs jobs follow` on a terminal
        os.environ.pop("NO_COLOR", None)
        os.environ["TERM"] = "xterm"
        os.execv(sys.executable, [sys.executable, "-m", "sdjobs", "jobs", "follow", str(queued)])
    seen = b""

    def read_for(seconds: float) -> None:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    return

    try:
        deadline = time.monotonic() + 30
        while b"waiting for a worker" not in seen and time.monotonic() < deadline:
            read_for(0.2)
        assert f"waiting for a worker (held by #{busy})".encode() in seen, seen[-500:]
        os.write(fd, b"\x03")  # Ctrl-C, as the terminal sends it
        read_for(3)
        _, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 130, seen[-500:]
    assert f"detached; job {queued} keeps running".encode() in seen
    assert store.get(queued).status == "queued" and not store.events(queued, kinds=["pause-requested"])
    cli("jobs", "cancel", busy, check=True)
