"""The command server: commands handed to a fork of a process that imported the CLI once.

Served or not, a command must behave the same: output, exit codes, relative paths, names that
are not UTF-8, the environment, stdin, Ctrl-C. A command is known to be served when the
client process imported neither typer nor the store (``python -X importtime`` lists what it
imported; `jobs ls` run in process skips typer, cli/jobs_ls.py, but not the store).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sdjobs as sdjobs_package
from conftest import wait_for


def sdjobs(*args, cwd=None, env=None, importtime=False, **kw) -> subprocess.CompletedProcess:
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "sdjobs", *map(os.fsdecode, args)]
    return subprocess.run(cmd, capture_output=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=60, **kw)


def served(proc: subprocess.CompletedProcess) -> bool:
    return b"import time:" in proc.stderr and re.search(rb"\|\s+(typer|sdjobs\.store\.api)$", proc.stderr, re.M) is None


@pytest.fixture
def server(lib, start_runner):
    """A runner, and its command server listening."""
    runner = start_runner()
    sock = lib.parent / "library-data" / "cli.sock"
    wait_for(sock.exists, what="the command server's socket")
    wait_for(lambda: served(sdjobs("jobs", "ls", importtime=True)), what="a served command")
    return runner


def test_the_installed_script_hands_over_without_importing_re(server):
    """The `sdjobs` script pip installs (sdjobs/cli/bin/sdjobs: script-files, not an entry
    point, whose script imports `re`): a served command's client imports only the hand-over.
    Run without site (-S), whose start-up would import re for a development install's import
    finder; sdjobs is found where that finder would find it."""
    script = Path(__file__).resolve().parents[2] / "sdjobs" / "cli" / "bin" / "sdjobs"
    package_root = str(Path(sdjobs_package.__file__).resolve().parents[1])
    run_script = (f"import sys; sys.path.insert(0, {package_root!r}); sys.argv = [{str(script)!r}, 'jobs', 'ls'];"
                  f" exec(compile(open({str(script)!r}).read(), {str(script)!r}, 'exec'))")

    def imported(code: str) -> tuple[subprocess.CompletedProcess, set[bytes]]:
        proc = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c", code], capture_output=True, timeout=60)
        return proc, {line.split(b"|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith(b"import time:")}

    proc, modules = imported(run_script)
    assert proc.returncode == 0 and served(proc), proc.stderr[-2000:]
    assert not modules & {b"re", b"enum", b"typing"}, sorted(modules - imported("pass")[1])


def test_a_served_command_prints_what_it_prints_in_process(server, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_text("x")
    assert sdjobs("copy", "--detach", "src", "dst", cwd=tmp_path).returncode == 0
    here = sdjobs("jobs", "ls", "--all", "--json", env={"SDJOBS_CLI_SERVER": "0"})
    there = sdjobs("jobs", "ls", "--all", "--json", importtime=True)
    assert served(there) and not served(sdjobs("jobs", "ls", importtime=True, env={"SDJOBS_CLI_SERVER": "0"}))
    assert there.returncode == here.returncode == 0
    rows = json.loads(there.stdout)
    assert [r["id"] for r in rows] == [r["id"] for r in json.loads(here.stdout)]
    # the job was made from the client's directory: relative paths are the client's
    job = json.loads(sdjobs("jobs", "show", str(rows[0]["id"]), "--json").stdout)
    assert job["config"]["sources"] == [str(tmp_path / "src")]
    assert job["context"]["cwd"] == str(tmp_path)


def test_a_served_command_parses_as_one_in_its_own_process(server):
    """A served command runs the whole command tree that the server built once (main.prebuild);
    one in its own process builds only its own command: help, usage errors and suggestions agree."""
    for args in (["dupes", "--help"], ["jobs", "ls", "--bogus"], ["jobs", "--help"], ["jobs", "lss"],
                 ["copy"], ["dupes", "--mode", "nope", "/tmp"]):
        there = sdjobs(*args, importtime=True, env={"COLUMNS": "100"})
        here = sdjobs(*args, env={"SDJOBS_CLI_SERVER": "0", "COLUMNS": "100"})
        assert served(there), args
        assert (there.returncode, there.stdout) == (here.returncode, here.stdout), args
        assert _without_importtime(there.stderr) == here.stderr, args


def _without_importtime(stderr: bytes) -> bytes:
    return b"".join(line for line in stderr.splitlines(keepends=True) if not line.startswith(b"import time:"))


def test_the_prebuilt_tree_is_what_a_served_command_runs(monkeypatch, capsys):
    from sdjobs.cli import main

    main.prebuild()
    try:
        monkeypatch.setattr(main, "build_app", lambda *a: pytest.fail("a served command built its app again"))
        monkeypatch.setattr(sys, "argv", ["sdjobs", "--version"])
        with pytest.raises(SystemExit) as exit_:
            main.run()
        assert exit_.value.code == 0 and capsys.readouterr().out.startswith("sdjobs ")
    finally:
        main._served_tree = None


_IMPORTS_OF_A_COMMAND = """
import sys
from sdjobs.cli import server
server._preload(sys.argv[1])
before = set(sys.modules)
from sdjobs.cli import main
sys.argv = ["sdjobs", *sys.argv[2:]]
try:
    main.run()
except SystemExit:
    pass
print("NEW", sorted(set(sys.modules) - before), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["dupes", "{tree}", "--json"], ["copy", "--detach", "{tree}", "{tree}-copy"],
                                  ["index", "--detach", "--json", "{tree}"]])
def test_a_served_job_command_imports_nothing(server, lib, tmp_path, args):
    """What the server preloads is all that a job command needs: a module imported in the served
    fork is imported at every command (``import encodings.ascii`` for a client under LANG=C too)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("a", "b"):
        (tree / name).write_text("same")
    proc = subprocess.run([sys.executable, "-c", _IMPORTS_OF_A_COMMAND, str(lib),
                           *(a.format(tree=tree) for a in args)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "LANG": "C", "LC_ALL": "C"})
    assert "NEW []" in proc.stderr, proc.stderr[-2000:]


def test_exit_codes_and_errors_come_back(server):
    proc = sdjobs("jobs", "show", "999999", importtime=True)
    assert served(proc)
    assert proc.returncode == 2
    assert b"no job 999999" in proc.stderr
    missing = sdjobs("copy", "/nonexistent/source", "/tmp/x", importtime=True)
    assert served(missing) and missing.returncode == 2
    assert b"cannot copy '/nonexistent/source': no such file or directory" in missing.stderr


def test_a_name_that_is_not_utf8_passes_byte_exact(server, tmp_path):
    name = b"caf\xe9-\xff.txt"
    src = tmp_path / "src"
    src.mkdir()
    with open(os.path.join(os.fsencode(src), name), "wb") as f:
        f.write(b"bytes")
    proc = sdjobs("copy", os.path.join(b"src", name), "dst", cwd=tmp_path, importtime=True)
    assert served(proc), proc.stderr[-400:]
    assert proc.returncode == 0, proc.stderr[-400:]
    assert (tmp_path / "dst").read_bytes() == b"bytes"
    job = json.loads(sdjobs("jobs", "ls", "--json").stdout)[0]
    import shlex  # the command is shell-quoted (it pastes back): the name inside is byte-exact

    assert [os.fsencode(w) for w in shlex.split(job["command"])] == [b"copy", os.path.join(b"src", name), b"dst"]


def test_the_clients_environment_and_stdin(server, tmp_path):
    (tmp_path / "f").write_text("x")
    # no terminal and no --yes: a permanent delete refuses, reading nothing from the pipe
    proc = sdjobs("delete", "--mode", "permanent", tmp_path / "f", importtime=True, input=b"y\n")
    assert served(proc)
    assert proc.returncode == 2 and (tmp_path / "f").exists()
    # SDJOBS_LIBRARY of the client decides the library: an empty one here
    other = tmp_path / "other.db"
    proc = sdjobs("jobs", "ls", "--json", env={"SDJOBS_LIBRARY": str(other)})
    assert proc.returncode == 0 and json.loads(proc.stdout) == []


def test_ctrl_c_reaches_the_served_command_which_pauses_its_job(server, tmp_path, store):
    big = tmp_path / "big"
    big.mkdir()
    (big / "f").write_bytes(os.urandom(8 << 20))
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "copy", "--bwlimit", "1M", str(big), str(tmp_path / "d")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: any(r.status == "running" for r in store.list_jobs()), what="the copy to run")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"sdjobs jobs resume" in err
    job = store.list_jobs()[0]
    wait_for(lambda: store.get(job.id).status == "paused", what="the job to pause")


def test_ctrl_z_stops_the_served_command_and_fg_continues_it(server, tmp_path, store):
    big = tmp_path / "big"
    big.mkdir()
    (big / "f").write_bytes(os.urandom(8 << 20))
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "copy", "--bwlimit", "1M", str(big), str(tmp_path / "d")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: any(r.status == "running" for r in store.list_jobs()), what="the copy to run")
    [child] = _children(_server_pid(store))
    proc.send_signal(signal.SIGTSTP)
    wait_for(lambda: _state(child) == "T", timeout=10, what="the served command to stop")
    # then the client stops itself (a shell continues it only after that); in a process group
    # with no shell (orphaned), the kernel discards the stop, and the client goes on waiting
    deadline = time.monotonic() + 1.0
    while _state(proc.pid) != "T" and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGCONT)
    wait_for(lambda: _state(child) != "T", timeout=10, what="the served command to continue")
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err


def test_a_killed_client_takes_its_served_command_with_it(server, tmp_path, store):
    big = tmp_path / "big"
    big.mkdir()
    (big / "f").write_bytes(os.urandom(8 << 20))
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "copy", "--bwlimit", "1M", str(big), str(tmp_path / "d")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: any(r.status == "running" for r in store.list_jobs()), what="the copy to run")
    server_pid = _server_pid(store)
    assert _children(server_pid), "the served command runs in a fork of the server"
    proc.kill()
    proc.wait()
    wait_for(lambda: not _children(server_pid), timeout=10, what="the served command to end")


def test_without_a_server_the_command_runs_in_its_own_process(lib, start_runner, store):
    runner = start_runner()
    sock = lib.parent / "library-data" / "cli.sock"
    wait_for(sock.exists, what="the command server's socket")
    os.kill(_server_pid(store), signal.SIGKILL)  # a stale socket file stays behind
    time.sleep(0.2)
    assert sock.exists()
    proc = sdjobs("jobs", "ls", importtime=True)
    assert proc.returncode == 0 and not served(proc)
    runner.terminate()
    proc = sdjobs("jobs", "ls", importtime=True, env={"SDJOBS_CLI_SERVER": "1"})
    assert proc.returncode == 0 and not served(proc)


def test_the_server_goes_when_its_runner_goes(lib, start_runner, store):
    runner = start_runner()
    sock = lib.parent / "library-data" / "cli.sock"
    wait_for(sock.exists, what="the command server's socket")
    pid = _server_pid(store)
    assert runner.terminate() == 0
    assert not sock.exists()
    wait_for(lambda: not _alive(pid), timeout=5, what="the server to exit")
    # SIGKILL of the runner alone: the server sees it gone within a second or two
    runner = start_runner()
    wait_for(sock.exists, what="the new command server's socket")
    pid = _server_pid(store)
    os.kill(runner.proc.pid, signal.SIGKILL)
    runner.proc.wait()
    wait_for(lambda: not _alive(pid), timeout=10, what="the orphaned server to exit")


def test_a_served_command_does_not_hold_the_servers_lock(server, store, tmp_path):
    """A long command (here jobs wait) outliving its server must not keep the next one out."""
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "f").write_bytes(os.urandom(8 << 20))
    job = json.loads(sdjobs("copy", "--detach", "--json", "--bwlimit", "1M", tmp_path / "big", tmp_path / "d").stdout)["id"]
    waiter = subprocess.Popen([sys.executable, "-m", "sdjobs", "jobs", "wait", str(job)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        [child] = wait_for(lambda: _children(_server_pid(store)), what="the served jobs wait")
        # once it has the client's stderr (not the runner log), the command runs
        wait_for(lambda: not os.readlink(f"/proc/{child}/fd/2").endswith("runner.log"), what="the take-over")
        held = _open_files(child)
        assert not [h for h in held if h.endswith("cli.lock")], held
    finally:
        waiter.kill()
        waiter.wait()


def test_commands_that_need_a_process_of_their_own_are_not_served():
    from sdjobs.cli import launch

    assert launch.scan(["--library", "x.db", "jobs", "ls"]) == ("x.db", "jobs", "ls")
    assert launch.scan(["-Lx.db", "copy", "a", "b"]) == ("x.db", "copy", "a")
    assert launch.scan(["--library=x.db", "--version"]) == ("x.db", None, None)
    for command in ("runner", "dash", "watch"):
        assert command not in launch.SERVED


def _open_files(pid: int) -> list[str]:
    """What ``pid`` has open; a descriptor it closes while we look is left out."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            pass
    return out


def _server_pid(store) -> int:
    """The server of this library: a process running sdjobs.cli.server whose parent is not one
    (its forks, the served commands, have the same command line)."""
    mine = {p for p in _pids() if _is_server(p, store)}
    top = [p for p in mine if _ppid(p) not in mine]
    assert len(top) == 1, f"command servers of this library: {top}"
    return top[0]


def _is_server(pid: int, store) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"sdjobs.cli.server" in cmdline and os.fsencode(str(store.library.db_path)) in cmdline


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _children(pid: int) -> list[int]:
    """Live (not zombie) children of ``pid``."""
    kids = []
    for p in _pids():
        try:
            if _ppid(p) == pid and _state(p) != "Z":
                kids.append(p)
        except (OSError, IndexError):
            pass
    return kids


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


CRASHY = '''import os
if os.environ.get("CRASH_ME") == "1":
    raise RuntimeError("boom in a plugin")
'''


def _server_with(lib, start_runner, cwd):
    runner = start_runner()
    wait_for(lambda: served(sdjobs("jobs", "ls", importtime=True, cwd=cwd)), what="a served command")
    return runner


def test_a_served_command_that_crashes_says_so_in_one_line(lib, start_runner, tmp_path, monkeypatch):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "crashy.py").write_text(CRASHY)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "mods"), os.environ["PYTHONPATH"]]))
    monkeypatch.setenv("SDJOBS_PLUGINS", "testjobs,crashy")
    _server_with(lib, start_runner, tmp_path)
    for debug in ("0", "1"):
        proc = sdjobs("types", importtime=True, env={"CRASH_ME": "1", "SDJOBS_DEBUG": debug})
        assert served(proc), proc.stderr[-2000:]
        err = [line for line in proc.stderr.decode().splitlines() if not line.startswith("import time:")]
        assert proc.returncode == 1
        assert "ended without an exit status" not in proc.stderr.decode()
        assert any("RuntimeError" in line and "boom in a plugin" in line for line in err), err
        if debug == "1":
            assert "Traceback (most recent call last)" in proc.stderr.decode()
        else:
            assert len(err) == 1, err


def test_an_edited_module_is_never_served_stale(lib, start_runner, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "editable"
    shutil.copytree(Path(__file__).parents[2] / "sdjobs", copy / "sdjobs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # (run from tmp_path: ``python -m`` puts its cwd, this worktree, ahead of the copy)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(copy), os.environ["PYTHONPATH"]]))
    _server_with(lib, start_runner, tmp_path)
    before = sdjobs("jobs", "show", "999999", importtime=True, cwd=tmp_path)
    assert served(before) and b"[edited]" not in before.stderr
    with open(copy / "sdjobs" / "cli" / "output.py", "a") as f:
        f.write("\n_plain_err = err\n\ndef err(message, style='red'):\n    _plain_err(message + ' [edited]', style)\n")
    for _ in range(3):
        proc = sdjobs("jobs", "show", "999999", importtime=True, cwd=tmp_path)
        assert proc.returncode == 2 and b"[edited]" in proc.stderr, proc.stderr[-500:]
    wait_for(lambda: served(sdjobs("jobs", "ls", importtime=True, cwd=tmp_path)), what="served again, by a fresh server")
    assert b"[edited]" in sdjobs("jobs", "show", "999999", cwd=tmp_path).stderr


def test_without_o_path_every_command_runs_in_its_own_process(lib, start_runner, tmp_path, monkeypatch):
    (tmp_path / "nopath").mkdir()
    (tmp_path / "nopath" / "sitecustomize.py").write_text("import os\ndel os.O_PATH\n")
    _server_with(lib, start_runner, tmp_path)
    proc = sdjobs("jobs", "ls", importtime=True,
                  env={"PYTHONPATH": os.pathsep.join([str(tmp_path / "nopath"), os.environ["PYTHONPATH"]])})
    assert proc.returncode == 0 and not served(proc), proc.stderr[-1000:]
    # a server (of another runner) on such a platform does not serve, and does not crash commands
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "nopath"), os.environ["PYTHONPATH"]]))
    runner = start_runner("--library", str(tmp_path / "other.db"))
    time.sleep(1.5)
    proc = sdjobs("--library", str(tmp_path / "other.db"), "jobs", "ls", importtime=True)
    assert proc.returncode == 0 and not served(proc), proc.stderr[-1000:]
    runner.terminate()


def test_a_server_whose_runner_died_during_its_imports_never_serves(lib, tmp_path):
    """The runner names itself on the server's command line: a server that finds another
    parent (its runner died while it imported the CLI) exits instead of serving forever."""
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    Store(Library(lib)).close()
    proc = subprocess.run([sys.executable, "-P", "-m", "sdjobs.cli.server", str(lib), "1"],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not (lib.parent / "library-data" / "cli.sock").exists()
