"""runner/doorbell.py: a command that queued a job wakes the runner; without the ring (lost,
refused, no bell) the runner's own periodic look still finds the job."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

from conftest import submit, wait_for

from sdjobs.runner import doorbell


def test_a_ring_reaches_the_bell_in_a_folder_longer_than_a_socket_path(tmp_path):
    folder = tmp_path / ("x" * 60) / ("y" * 60)  # past AF_UNIX's 108 bytes
    folder.mkdir(parents=True, mode=0o700)
    bell = doorbell.open_bell(str(folder))
    assert bell is not None
    try:
        assert (folder / doorbell.BELL).exists()
        assert oct((folder / doorbell.BELL).stat().st_mode & 0o777) == oct(0o600)
        assert bell.drain() == 0
        assert doorbell.ring(str(folder)) and doorbell.ring(str(folder))
        assert bell.drain() == 2
        assert bell.drain() == 0
    finally:
        bell.close()
    assert not (folder / doorbell.BELL).exists()
    assert not doorbell.ring(str(folder))  # nobody there: nothing sent, nothing raised


def test_a_ring_to_a_dead_runners_bell_or_no_folder_is_quietly_lost(tmp_path):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(tmp_path / doorbell.BELL))
    stale.close()  # the file stays, nobody reads it: a runner killed with SIGKILL
    assert not doorbell.ring(str(tmp_path))
    assert not doorbell.ring(str(tmp_path / "missing"))
    (tmp_path / "file").write_text("")
    assert not doorbell.ring(str(tmp_path / "file"))


def test_a_new_bell_replaces_a_stale_one_and_closing_the_old_leaves_the_new(tmp_path):
    old = doorbell.Doorbell(str(tmp_path))
    new = doorbell.Doorbell(str(tmp_path))
    try:
        old.close()  # not its name any more: left to the new one
        assert (tmp_path / doorbell.BELL).exists()
        assert doorbell.ring(str(tmp_path))
        assert new.drain() == 1
    finally:
        new.close()


def _bell(lib) -> str:
    return os.path.join(os.path.dirname(lib), "library-data", doorbell.BELL)


def _runner_where(setting: str, **env: str) -> subprocess.Popen:
    """`sdjobs runner --workers 1` in a process of its own whose supervisor module runs ``setting`` first."""
    code = textwrap.dedent(f"""
        import sys
        from sdjobs.runner import supervisor
        {setting}
        from sdjobs.cli.main import run
        sys.argv = ["sdjobs", "runner", "--workers", "1"]
        run()
    """)
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **env})


def test_a_runner_rings_back_at_once_even_when_its_look_is_a_minute_away(lib, store, tmp_path):
    """A runner whose periodic look at the queue comes once a minute claims a job within seconds
    of the ring."""
    runner = _runner_where("supervisor.IDLE_WAIT = supervisor.CLAIM_EVERY = 60.0",  # only the ring can wake it
                           SDJOBS_CLI_SERVER="0")
    try:
        wait_for(lambda: os.path.exists(_bell(lib)), what="the runner's bell")
        wait_for(lambda: any(r.pid == runner.pid for r in store.runners()), what="the runner to register")
        job = submit(store, "test-steps", {"steps": 1, "delay": 0})
        assert doorbell.ring(os.path.dirname(_bell(lib)))
        wait_for(lambda: store.get(job).status == "completed", timeout=20, what="the job, woken by the ring")
    finally:  # (a SIGTERM would wait for its minute's look)
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(10)


def test_the_bell_goes_with_its_runner(lib, start_runner):
    runner = start_runner("--workers", "1")
    wait_for(lambda: os.path.exists(_bell(lib)), what="the runner's bell")
    assert runner.terminate() == 0
    assert not os.path.exists(_bell(lib))


def test_a_job_queued_with_the_ring_lost_still_runs(lib, store, cli, start_runner):
    """The bell removed (as if the ring were lost): a job command's job is claimed at the runner's
    next look all the same."""
    runner = start_runner("--workers", "1")
    wait_for(lambda: os.path.exists(_bell(lib)), what="the runner's bell")
    os.unlink(_bell(lib))
    out = cli("run", "test-steps", "--set", "steps=2", "--set", "delay=0", timeout=60)
    assert out.returncode == 0, out.stderr
    assert [r.pid for r in store.runners()] == [runner.proc.pid]  # that runner ran it, none other started


def _switches(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))


def test_an_idle_runner_dozes_and_still_finds_a_job_queued_without_a_ring(lib, store):
    """Idle for BRISK_FOR with a bell, a runner looks at the queue every DOZE_WAIT, not every
    IDLE_WAIT (its main thread's wake-ups, counted by the kernel); a job queued without a ring
    is still claimed at its next look."""
    from sdjobs.runner.supervisor import DOZE_WAIT, IDLE_WAIT

    runner = _runner_where("supervisor.BRISK_FOR = 1.0")  # (not 10 s of a test's time)
    try:
        wait_for(lambda: os.path.exists(_bell(lib)), what="the runner's bell")
        time.sleep(2.5)  # (its command server and spare started meanwhile)
        before, start = _switches(runner.pid), time.monotonic()
        time.sleep(2.0)
        woke = (_switches(runner.pid) - before) / (time.monotonic() - start)
        assert woke < 3 / DOZE_WAIT, f"{woke:.0f} wake-ups a second (every {IDLE_WAIT} s would be {1 / IDLE_WAIT:.0f})"
        job = submit(store, "test-steps", {"steps": 1, "delay": 0})  # (the store rings nothing)
        wait_for(lambda: store.get(job).status == "completed", timeout=20, what="the job, found by a dozing look")
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(30)


def test_a_sigterm_stops_a_runner_whose_next_look_is_a_minute_away_at_once(lib, store):
    """The signal's handler wakes the loop's wait (a pipe it waits on), so a runner stops as soon
    as it is asked, not at its next look (once every DOZE_WAIT when dozing; here a minute)."""
    runner = _runner_where("supervisor.IDLE_WAIT = supervisor.DOZE_WAIT = supervisor.CLAIM_EVERY = 60.0",
                           SDJOBS_CLI_SERVER="0")
    try:
        wait_for(lambda: any(r.pid == runner.pid for r in store.runners()), what="the runner to register")
        time.sleep(1.0)  # in its minute's wait by now
        start = time.monotonic()
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(30) == 0
        assert time.monotonic() - start < 10, "it stopped at its next look, not when asked"
        assert not any(r.pid == runner.pid for r in store.runners()), "it left without unregistering"
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait(10)
