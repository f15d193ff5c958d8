"""A job command with no runner alive: the runner it starts forks its command server at once
and the command is handed over to it (the CLI imported once, not in the command and again in
a server started later); the next commands are served at once. And when that goes wrong (the
runner cannot start, the library is bad, two commands start at once, bad input), the command
still says what it would have said, in one line, and leaves no runner behind."""

import os
import subprocess
import threading

from conftest import children, holds, wait_for

from sdjobs.runner.prestart import FIRST_IDLE_EXIT, runner_alive

# With PYTHONPROFILEIMPORTTIME set, a command that imports typer itself says so on stderr;
# a served one does not (its server imported typer before it forked).
PROFILE = {"PYTHONPROFILEIMPORTTIME": "1"}


def _imported_typer(stderr: str) -> bool:
    return any(line.startswith("import time:") and line.split("|")[-1].strip() == "typer"
               for line in stderr.splitlines())


def test_a_cold_job_command_is_served_by_the_runner_it_starts(cli, store, tmp_path):
    (tmp_path / "a").write_text("x")
    first = cli("copy", str(tmp_path / "a"), str(tmp_path / "b"), env=PROFILE)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "b").read_text() == "x"
    assert not _imported_typer(first.stderr), "the first command imported the CLI itself"
    [runner] = store.runners()
    with open(f"/proc/{runner.pid}/cmdline", "rb") as f:
        assert b"--serve" in f.read().split(b"\0")
    [server] = [c for c in children(runner.pid) if holds(c, "cli.lock")]
    assert not holds(server, "runner.lock")  # only the runner marks a live runner
    second = cli("copy", str(tmp_path / "a"), str(tmp_path / "c"), env=PROFILE)  # at once: served too
    assert second.returncode == 0 and not _imported_typer(second.stderr), second.stderr
    assert [r.pid for r in store.runners()] == [runner.pid]
    assert [j.status for j in store.list_jobs()] == ["completed", "completed"]


def test_bad_input_leaves_neither_runner_nor_server_behind(cli, store, tmp_path):
    r = cli("copy", str(tmp_path / "missing"), str(tmp_path / "b"))
    assert r.returncode == 2, r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("sdjobs: error: ") and "no such file or directory" in line, line
    data_dir = str(store.library.data_dir)
    wait_for(lambda: not runner_alive(data_dir), timeout=FIRST_IDLE_EXIT + 30, interval=0.5,
             what="the runner started for nothing to exit")
    wait_for(lambda: not os.path.exists(os.path.join(data_dir, "cli.sock")), timeout=10,
             what="its command server to go with it")


def test_a_runner_that_cannot_start_leaves_the_command_to_say_so(cli, store, tmp_path):
    # every runner dies at its first instruction (a sitecustomize that sees its command line)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os, sys\nif 'sdjobs.runner.background' in sys.orig_argv:\n    os._exit(3)\n")
    env = {"PYTHONPATH": f"{site}{os.pathsep}{os.environ['PYTHONPATH']}"}
    (tmp_path / "a").write_text("x")
    r = cli("copy", str(tmp_path / "a"), str(tmp_path / "b"), env=env, timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"sdjobs: error: the background runner exited at once; see {store.library.runner_log}"], r.stderr
    assert not runner_alive(str(store.library.data_dir))


def test_a_bad_library_is_one_line_and_exit_2(cli, lib, tmp_path):
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"garbage, not a database\n" * 100)
    data_dir = lib.with_name("library-data")
    data_dir.mkdir(mode=0o700)  # as a library used before has it: the command starts a runner
    (tmp_path / "a").write_text("x")
    r = cli("copy", str(tmp_path / "a"), str(tmp_path / "b"), timeout=60)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"sdjobs: error: {lib} is not an sdjobs library, or is damaged (file is not a database)"], r.stderr
    wait_for(lambda: not runner_alive(str(data_dir)), timeout=20, what="the runner to give up")
    log = (data_dir / "runner.log").read_text()
    assert "Traceback" not in log and "is not an sdjobs library" in log, log
    lib.unlink()  # (the fixture's clean-up opens the library)


def test_two_cold_commands_at_once_share_one_runner(cli, store, tmp_path):
    results: dict[int, subprocess.CompletedProcess] = {}
    for i in range(3):
        (tmp_path / f"a{i}").write_text(str(i))

    def copy(i: int) -> None:
        results[i] = cli("copy", str(tmp_path / f"a{i}"), str(tmp_path / f"b{i}"))

    threads = [threading.Thread(target=copy, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, r in results.items():
        assert r.returncode == 0, r.stderr
        assert (tmp_path / f"b{i}").read_text() == str(i)
    assert len(store.runners()) == 1
    assert sorted(j.status for j in store.list_jobs()) == ["completed"] * 3


def test_the_switch_turns_the_hand_over_off(cli, store, tmp_path):
    (tmp_path / "a").write_text("x")
    r = cli("copy", str(tmp_path / "a"), str(tmp_path / "b"), env={**PROFILE, "SDJOBS_CLI_SERVER": "0"})
    assert r.returncode == 0 and _imported_typer(r.stderr), r.stderr
    [runner] = store.runners()
    with open(f"/proc/{runner.pid}/cmdline", "rb") as f:
        assert b"--serve" not in f.read().split(b"\0")
    assert not os.path.exists(os.path.join(str(store.library.data_dir), "cli.sock"))
