"""Process hygiene: the processes sdjobs leaves behind (background runner, command server)
keep no user directory busy and never import code from the directory a command was typed in."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import holds, wait_for

PLANTED = """import os
open(os.path.join(os.getcwd(), "PLANTED-RAN"), "w").close()
raise ImportError("the planted sdjobs package was imported")
"""


def _cwd_of(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/cwd")


def test_background_runner_and_server_leave_the_start_directory(cli, store, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "a").write_text("x")
    r = subprocess.run([sys.executable, "-m", "sdjobs", "copy", "a", "b"], cwd=work, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    [runner] = store.runners()
    assert _cwd_of(runner.pid) == "/"
    [server] = wait_for(lambda: _servers(runner.pid), timeout=30, what="the command server")
    assert _cwd_of(server) == "/"


def _servers(runner: int) -> list[int]:
    """The runner's command server: exec'd as sdjobs.cli.server, or forked by a runner that a
    cold command started (with the runner's command line): the child that holds cli.lock."""
    return [c for c in _children(runner) if holds(c, "cli.lock")]


def _children(pid: int, marker: bytes = b"") -> list[int]:
    """The processes ``pid`` started whose command line holds ``marker`` (job processes come and go)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids = [int(x) for x in f.read().split()]
    except OSError:
        return []
    found = []
    for child in pids:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if marker in f.read():
                    found.append(child)
        except OSError:
            pass
    return found


def test_a_folder_named_sdjobs_in_the_cwd_is_never_imported(cli, store, tmp_path):
    work = tmp_path / "work"
    (work / "sdjobs").mkdir(parents=True)
    (work / "sdjobs" / "__init__.py").write_text(PLANTED)
    (work / "src").mkdir()
    (work / "src" / "f").write_text("x")
    env = {**os.environ, "SDJOBS_RUNNER_IDLE_EXIT": "30"}
    # The user's own ``sdjobs`` is an installed script, whatever its directory holds: here the same.
    script = [sys.executable, "-P", "-m", "sdjobs"]
    r = subprocess.run([*script, "copy", "src", "dst"], cwd=work, capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert (work / "dst" / "f").read_text() == "x"
    [runner] = store.runners()
    wait_for(lambda: _servers(runner.pid), timeout=30, what="the command server")
    r = subprocess.run([*script, "copy", "src", "dst2"], cwd=work, capture_output=True, text=True,
                       timeout=120, env=env)  # served, perhaps
    assert r.returncode == 0, r.stderr
    assert (work / "dst2" / "f").read_text() == "x"
    assert not (work / "PLANTED-RAN").exists()


def test_a_scheduled_command_never_imports_the_sdjobs_folder_of_its_directory(lib, store, start_runner, tmp_path):
    import time

    from sdjobs.store import schedules

    work = tmp_path / "work"
    (work / "sdjobs").mkdir(parents=True)
    (work / "sdjobs" / "__init__.py").write_text(PLANTED)
    r = subprocess.run([sys.executable, "-P", "-m", "sdjobs", "schedule", "add", "* * * * *", "--", "run", "test-steps",
                        "--set", "steps=1", "--set", "delay=0"], cwd=work, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    sid = int(r.stdout)
    store._sql("UPDATE schedule SET checked_at=? WHERE id=?", (time.time() - 61, sid))  # a slot is due
    start_runner()
    wait_for(lambda: (x := schedules.get(store, sid)).last_job_id or x.last_error, what="the scheduled run")
    assert schedules.get(store, sid).last_job_id, schedules.get(store, sid).last_error
    assert not (work / "PLANTED-RAN").exists()
    subprocess.run([sys.executable, "-P", "-m", "sdjobs", "schedule", "rm", str(sid)], cwd=work, timeout=60)
