"""The command server: the CLI imported once, forked for each command (see cli/launch.py).

A runner starts one per library (``python -m sdjobs.cli.server DB``). It imports typer, rich,
peewee and every command, listens on ``cli.sock`` in the library's data directory (a folder
only its owner can enter; peers of another uid are refused too), and forks at each
connection. The fork takes the client's terminal descriptors, arguments, working directory,
environment and umask, runs the command exactly as ``sdjobs`` would, and reports the exit code.
The server itself stays single-threaded (so that forking it is safe), opens no database
connection, keeps no directory busy (it works from "/"), and exits when its runner does, or on
SIGTERM. It never serves code older than the files on disk: before each fork it checks what it
loaded (Loaded), and replaces itself by a fresh server when that changed; the client whose
command came in meanwhile runs it itself. A served command that crashes tells its client, in
one line, like any command.
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import io
import marshal
import os
import signal
import socket
import struct
import sys
import threading
import time

from ..store.libpath import SERVER_SOCKET, data_dir_of, is_postgres
from . import launch

ACCEPT_POLL = 1.0  # how often the server looks whether its runner is still there
COLD_POLL = 0.05  # until a cold server has imported what commands need: how soon it does once idle


def main(db_path: str, runner_pid: str | None = None) -> int:
    """Serve the commands of the library at ``db_path`` while runner ``runner_pid`` (its
    parent, named by the runner itself: a runner that died during this module's imports
    has left it to pid 1 by now) lives."""
    gc.disable()  # no collection while the modules load (serve turns it back on)
    runner = int(runner_pid) if runner_pid else os.getppid()
    if os.getppid() != runner:
        return 0
    return serve(db_path, runner, warm=True)


def serve(db_path: str, runner: int, *, warm: bool) -> int:
    """The server's life, in a process whose parent is runner ``runner``. ``warm``: import
    everything a command needs before listening; else (a server forked by a runner that a
    cold command started, runner/background.py) listen at once, and import the rest once no
    command runs, so that the command waiting for it is served first."""
    if not is_postgres(db_path):  # (a PostgreSQL URL is no path)
        db_path = os.path.abspath(db_path)
    folder = data_dir_of(db_path)
    os.chdir("/")  # each fork enters its client's directory; the server keeps none busy
    if not launch.HAND_OVER_POSSIBLE:
        return 0  # no client here could reach it
    lock = os.open(os.path.join(folder, "cli.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another runner of this library serves it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a foreground runner's terminal is the runner's
    signal.signal(signal.SIGTERM, _stop)
    loaded = _load_all(db_path) if warm else Loaded(plugins=False)
    listener, inode = _listen(folder, ACCEPT_POLL if warm else COLD_POLL)
    gc.freeze()  # what the imports made is shared by every fork, untouched
    gc.enable()  # (off while a runner's fork imported the CLI)
    children: set[int] = set()
    try:
        while os.getppid() == runner:
            children -= _reap()
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if not warm and not children:  # nothing to serve now: load what the next commands need
                    warm = True
                    loaded = _load_all(db_path)
                    listener.settimeout(ACCEPT_POLL)
                continue
            except OSError:
                time.sleep(0.05)
                continue
            if not loaded.current():  # its code edited, a plugin installed: a fresh server serves
                conn.close()  # this client runs the command itself
                listener.close()
                _unlink_if_ours(folder, inode)
                _restart(db_path)
            pid = os.fork()
            if pid == 0:
                os.close(lock)  # a long command must not keep the next server from the lock
                _child(listener, conn)  # never returns
            children.add(pid)
            conn.close()
    except SystemExit:
        pass
    finally:
        listener.close()
        _unlink_if_ours(folder, inode)
    return 0


def fork(db_path: str, runner: int) -> ForkedServer:
    """Start the server as a fork of runner ``runner`` (this process), which has imported the
    store: no second interpreter, no second import of what they share."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            from ..runner import prestart

            prestart.release_inherited()  # runner.lock marks the runner alone
            from . import main  # noqa: F401 - typer and click, for every command (the rest: _preload, once idle)

            code = serve(db_path, runner, warm=False)
        except BaseException:  # noqa: BLE001 - its log says why; the runner lives on unserved
            import traceback

            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    return ForkedServer(pid)


class ForkedServer:
    """The runner's handle on a server it forked: what it uses of a ``subprocess.Popen``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG if deadline is not None else 0)
            except ChildProcessError:
                self.returncode = 0
                break
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif deadline is not None and time.monotonic() >= deadline:
                import subprocess

                raise subprocess.TimeoutExpired(f"command server {self.pid}", timeout or 0.0)
            else:
                time.sleep(0.01)
        return self.returncode

    def _signal(self, signum: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass


def _stop(_signum, _frame) -> None:
    raise SystemExit(0)


class Loaded:
    """What this server has loaded, so that it never serves code older than the files on disk
    (as Mercurial's chg does): the sdjobs modules and plugin job modules, each by its stamp,
    and the plugin set (the entry points of the registry's group), rechecked whenever a
    directory on sys.path changes (a ``pip install`` changes its site-packages)."""

    def __init__(self, plugins: bool = True) -> None:
        """``plugins=False``: a server that has loaded no job type yet (the cold one, before its
        _preload) need not know the plugin set, which costs importlib.metadata's import."""
        self.modules = {path: _stamp(path) for path in _module_files()}
        self.path_dirs = _path_stamps()
        self.plugins = _plugin_set() if plugins else None

    def current(self) -> bool:
        try:
            if any(_stamp(path) != stamp for path, stamp in self.modules.items()):
                return False
            dirs = _path_stamps()
            if dirs != self.path_dirs:
                if self.plugins is not None and _plugin_set() != self.plugins:
                    return False
                self.path_dirs = dirs  # something else changed there
            return True
        except Exception:  # noqa: BLE001 - in doubt: not served
            return False  # in doubt: not served


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _module_files() -> list[str]:
    from ..core import registry

    plugins = {cls.__module__ for cls in registry._types.values()}

    def ours(name: str, module) -> bool:
        if name == "__main__":  # this very module, run with -m
            name = getattr(getattr(module, "__spec__", None), "name", "") or ""
        return name == "sdjobs" or name.startswith("sdjobs.") or name in plugins

    return sorted({m.__file__ for name, m in list(sys.modules.items())
                   if ours(name, m) and isinstance(getattr(m, "__file__", None), str)})


def _path_stamps() -> list:
    return [(p, _stamp(p)) for p in sys.path if p]


def _plugin_set() -> list[tuple[str, str]]:
    from importlib.metadata import entry_points

    from ..core.registry import ENTRY_POINT_GROUP

    importlib.invalidate_caches()
    return sorted((ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP))


def _restart(db_path: str) -> None:
    """Become a new server of the same runner (the same pid), with the code as it is now."""
    from ..runner.prestart import python_argv

    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    argv = python_argv("sdjobs.cli.server", db_path, str(os.getppid()))
    os.execv(argv[0], argv)


def _load_all(db_path: str) -> Loaded:
    """Import what every command needs (``_preload``, no collection meanwhile); what is loaded then."""
    gc.disable()
    _preload(db_path)
    loaded = Loaded()
    gc.freeze()  # shared by every fork, untouched
    gc.enable()
    return loaded


def _preload(db_path: str) -> None:
    """Everything a command imports, so that a fork starts with it loaded."""
    from ..jobs import BUILTIN

    from . import follow, main, output, submit  # noqa: F401
    from ..runner import daemon  # noqa: F401

    main.prebuild()  # every cmd_* module and typer's lazy parts imported; the click tree each command runs
    for module in BUILTIN.values():  # (the job types' own modules, not their packages)
        importlib.import_module(module)
    import rich.console  # noqa: F401
    import rich.live  # noqa: F401
    import rich.progress  # noqa: F401
    from ..core import action, fields  # noqa: F401  (a job command's submission: its config built)
    from . import units  # noqa: F401  (sizes and durations on the command line)
    import encodings.ascii  # noqa: F401  (the client's streams, under LANG=C too)
    import encodings.latin_1  # noqa: F401
    from ..store import schema, waits  # noqa: F401  (waits: following a job)

    schema.target_versions()  # the schema's components, imported by each command's store.open
    from ..store.peewee_lazy import library_database

    library_database()  # peewee: the store imports it when a library is first opened (store/peewee_lazy.py)
    if is_postgres(db_path):
        importlib.import_module("sdjobs.store.pg.store")  # psycopg: most of a PostgreSQL command's imports
    # the data plane (index, locations: ``store.data_plane.open_data_plane``) of this library's kind
    from ..store import data_plane  # noqa: F401

    importlib.import_module("sdjobs.store.data_pg" if is_postgres(db_path) else "sdjobs.store.data_sqlite")


def _listen(folder: str, poll: float) -> tuple[socket.socket, int]:
    """Bind under a name of our own, then rename over ``cli.sock``: a stale socket left by a
    server that was killed is replaced, and a client never sees a half-made one."""
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    try:
        temp = f"/proc/self/fd/{fd}/{SERVER_SOCKET}.{os.getpid()}"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(temp)
        os.chmod(temp, 0o600)
        listener.listen(64)
        inode = os.stat(temp).st_ino
        os.rename(temp, f"/proc/self/fd/{fd}/{SERVER_SOCKET}")
    finally:
        os.close(fd)
    listener.settimeout(poll)
    return listener, inode


def _unlink_if_ours(folder: str, inode: int) -> None:
    path = os.path.join(folder, SERVER_SOCKET)
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


def _reap() -> set[int]:
    """The commands' processes that have ended (reaped)."""
    ended = set()
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.add(pid)


# -- in the fork -------------------------------------------------------------------------

def _child(listener: socket.socket, conn: socket.socket) -> None:
    code = 1
    accepted = False
    try:
        listener.close()
        os.setpgid(0, 0)  # a signal to the runner's process group is not for the commands it served
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        conn.settimeout(None)
        if not launch.same_user(conn) or not _take_over_or_log(conn):
            conn.sendall(launch.REFUSED)  # the client runs the command itself
            os._exit(0)
        _as_client(conn)
        threading.Thread(target=_watch, args=(conn,), daemon=True).start()
        conn.sendall(launch.ACCEPTED + struct.pack("!i", os.getpid()))  # the client signals us by pid
        accepted = True
        code = _run()
    except BaseException as exc:  # noqa: BLE001 - whatever ends the command, the client hears of it
        if accepted:  # the client's stderr is ours: the user hears of it, the usual way
            code = _crashed(exc)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    if accepted:
        try:
            conn.sendall(launch.EXITED + struct.pack("!i", code))
        except OSError:
            pass
    os._exit(code & 0xFF)


def _as_client(conn: socket.socket) -> None:
    """Who asks is the client's process, not this fork (the events of a job's log say so)."""
    from ..store import events

    events.client_pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                            struct.calcsize("3i")))[0]


def _crashed(exc: BaseException) -> int:
    """What main.run does with an error it did not expect, for one that escaped it here."""
    try:
        from . import main

        return main.report_unexpected(exc)
    except BaseException:  # noqa: BLE001 - the report itself failed: the raw traceback is all that is left
        import traceback

        os.write(2, f"sdjobs: error: {traceback.format_exc()}".encode(errors="replace"))
        return 1


def _take_over_or_log(conn: socket.socket) -> bool:
    log = os.dup(2)  # the runner log, until the client's stderr takes its place
    try:
        return _take_over(conn)
    except Exception:  # noqa: BLE001 - a command the server cannot take over must not take the server down
        import traceback

        os.write(log, f"sdjobs command server: cannot take a command over:\n{traceback.format_exc()}".encode())
        return False
    finally:
        os.close(log)


def _take_over(conn: socket.socket) -> bool:
    """Become the client: its descriptors, arguments, directory, environment and umask."""
    head, fds = _receive_head(conn)
    if head is None or len(fds) != 3:
        return False
    size = struct.unpack("!I", head)[0]
    data = b""
    while len(data) < size:
        chunk = conn.recv(min(size - len(data), 1 << 20))
        if not chunk:
            return False
        data += chunk
    ident, argv, cwd, env, mask, streams = marshal.loads(data)
    if ident != launch.identity():
        return False
    try:
        os.chdir(cwd)
    except OSError:
        return False  # run by the client itself, which says what is wrong the usual way
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environb.update(env)
    time.tzset()
    os.umask(mask)
    sys.argv = [os.fsdecode(a) for a in argv]
    sys.stdin, sys.stdout, sys.stderr = (_stream(fd, spec) for fd, spec in enumerate(streams))
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    return True


def _stream(fd: int, spec) -> io.TextIOWrapper | None:
    """A text stream over the client's descriptor, encoded and buffered as the client's was."""
    if spec is None:
        return None
    encoding, errors, tty = spec
    if fd == 0:
        return open(0, encoding=encoding, errors=errors, closefd=False)
    return io.TextIOWrapper(open(fd, "wb", closefd=False), encoding=encoding, errors=errors,
                            line_buffering=tty, write_through=fd == 2)


def _receive_head(conn: socket.socket) -> tuple[bytes | None, list[int]]:
    fds: list[int] = []
    data = b""
    while len(data) < 4:
        msg, ancillary, _flags, _addr = conn.recvmsg(4 - len(data), socket.CMSG_SPACE(3 * 4))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += struct.unpack(f"{len(payload) // 4}i", payload[:len(payload) - len(payload) % 4])
        if not msg:
            return None, fds
        data += msg
    return data, fds


def _watch(conn: socket.socket) -> None:
    """The client gone (killed, its terminal closed) means the process it stood for is gone."""
    while True:
        try:
            data = conn.recv(64)
        except OSError:
            data = b""
        if not data:
            os.kill(os.getpid(), signal.SIGKILL)


def _run() -> int:
    from . import main

    try:
        main.run()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the top-level handler of a served command
        return main.report_unexpected(exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
