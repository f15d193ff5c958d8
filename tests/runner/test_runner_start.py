"""How a command starts its runner: early, through a light entry point (no command-line
layer), never a second one, gone again when the command came to nothing; runner.lock
marks a live runner and only the runner holds it."""

import os
import signal

from conftest import wait_for

from sdjobs.runner.prestart import prestart, runner_alive


def _argv(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")


def _holds_runner_lock(pid: int) -> bool:
    fds = f"/proc/{pid}/fd"
    return any(_target(os.path.join(fds, fd)).endswith("runner.lock") for fd in os.listdir(fds))


def _target(link: str) -> str:
    try:
        return os.readlink(link)
    except FileNotFoundError:  # closed since the listing (a descriptor of a running process)
        return ""


def test_a_job_command_starts_one_light_runner_early(cli, store, tmp_path):
    (tmp_path / "a").write_text("x")
    assert cli("copy", str(tmp_path / "a"), str(tmp_path / "b")).returncode == 0
    assert (tmp_path / "b").read_text() == "x"
    [runner] = store.runners()  # the command's own ensure_runner waited for it: no second one
    assert runner.mode == "background"
    argv = _argv(runner.pid)
    assert b"sdjobs.runner.background" in argv and b"--lock-fd" in argv, argv  # started before the submit
    assert _holds_runner_lock(runner.pid)
    wait_for(lambda: not store.runners(), timeout=30, interval=0.5, what="the idle exit (3 s in tests)")
    # unregistered first, then it ends: on a busy machine the end can lag the record a little
    wait_for(lambda: not runner_alive(str(store.library.data_dir)), timeout=10, what="the runner to let go of its lock")


def test_a_runner_started_for_a_command_that_failed_goes_away(cli, store, tmp_path):
    r = cli("copy", str(tmp_path / "missing"), str(tmp_path / "b"))
    assert r.returncode == 2 and "no such file or directory" in r.stderr
    assert store.list_jobs() == []
    assert runner_alive(str(store.library.data_dir))  # started before the command looked at its input
    wait_for(lambda: not runner_alive(str(store.library.data_dir)), timeout=40, interval=0.5,
             what="the runner started early to give up (10 s without a job)")
    assert not store.runners()


def test_no_early_runner_with_a_runner_alive_or_for_help(cli, store, start_runner, tmp_path):
    runner = start_runner()
    (tmp_path / "a").write_text("x")
    assert cli("copy", str(tmp_path / "a"), str(tmp_path / "b")).returncode == 0
    assert [r.pid for r in store.runners()] == [runner.proc.pid]
    assert prestart(str(store.library.db_path)) is None
    runner.terminate()
    assert not runner_alive(str(store.library.data_dir))
    assert cli("copy", "--help").returncode == 0
    assert not runner_alive(str(store.library.data_dir)) and not store.runners()


def test_job_processes_let_go_of_the_runner_lock(store):
    job = store.submit("test-steps", 1, {"steps": 400, "delay": 0.05}, context={"argv": ["test"]})
    pid = prestart(str(store.library.db_path))
    assert pid
    try:
        rec = wait_for(lambda: (r := store.get(job)).pid and r.status == "running" and r, what="the job to run")
        assert _holds_runner_lock(pid) and not _holds_runner_lock(rec.pid)
        assert prestart(str(store.library.db_path)) is None  # one is alive
        os.kill(pid, signal.SIGKILL)  # the runner dies; its job process lives on for a moment
        os.waitpid(pid, 0)
        assert not runner_alive(str(store.library.data_dir))
    finally:
        for p in (pid, store.get(job).pid):
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, TypeError):
                pass
