"""The ``sdjobs`` entry point: hand the command to the library's command server when one is up.

Starting the CLI costs the imports of typer, click, rich and peewee, about 0.1-0.2 s at every
command. A runner therefore keeps a command server beside its library (cli/server.py, the way
Mercurial's chg works): a process that imported the CLI once and forks a copy of itself for each
command. This module imports only what the hand-over needs. It passes the terminal's file
descriptors, the arguments, the working directory, the environment and the umask over a Unix
socket, passes SIGINT, SIGTERM, SIGHUP and Ctrl-Z (stop, continue) on to the command's process,
and exits with the command's exit code. When no
server answers, or the one that answers runs other code or sees other plugins (identity), or
this platform lacks what the hand-over needs (O_PATH, /proc), the command runs in this process.
``SDJOBS_CLI_SERVER=0`` turns the hand-over off.

With no runner alive, a job command starts one that serves at once (runner/background.py's
``--serve``) and waits for its server rather than importing the CLI here: the CLI is imported
once, in the server, and the commands that follow are served too. If that runner dies, or its
server does not listen within SERVED_WITHIN, the command runs here after all.

``jobs ls`` with no server runs here without typer and peewee (cli/jobs_ls.py: ``fast``).
"""


import gc
import os
import sys

# Commands that finish or follow a job; not the runner itself, the dashboard, or watchers,
# which must be processes of their own.
SERVED = frozenset({"copy", "index", "locations", "dupes", "validate", "delete", "thumbs", "jobs", "run",
                    "types"})
JOB_COMMANDS = frozenset({"copy", "index", "dupes", "validate", "delete", "thumbs", "run"})  # each submits a job
SWITCH = "SDJOBS_CLI_SERVER"
ACCEPTED, REFUSED, EXITED = b"Y", b"N", b"X"
INTERRUPTED = 130  # cli/exitcodes.py's Exit.INTERRUPTED (that module imports what this one must not)
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGCONT")
# The socket is reached through /proc/self/fd/N of its folder (AF_UNIX paths are short);
# without O_PATH and /proc, every command runs in its own process.
HAND_OVER_POSSIBLE = hasattr(os, "O_PATH") and os.path.isdir("/proc/self/fd")
SERVED_WITHIN = 5.0  # how long a command that started a runner waits for its server before running here
SERVED_POLL = 0.005  # how often it looks (more often costs the runner and its server CPU)
STARTING_WITHIN = 1.0  # how long a command waits for a server that is starting (it holds cli.lock)


def scan(argv: list[str]) -> tuple[str | None, str | None, str | None]:
    """The ``--library`` value and the command word and the word after it (perhaps a
    subcommand), skipping the global options; (library, None, None) at any other option."""
    library = None
    args = iter(argv)
    for arg in args:
        if arg in ("--library", "-L"):
            library = next(args, None)
        elif arg.startswith("--library="):
            library = arg[len("--library="):]
        elif arg.startswith("-L") and len(arg) > 2:
            library = arg[2:]
        elif arg.startswith("-"):
            return library, None, None
        else:
            return library, arg, next(args, None)
    return library, None, None


def identity() -> bytes:
    """What the client and the server must share to run the same code: sdjobs itself, the
    interpreter, and the environment that decides which plugins and modules are found (the
    server also checks that what it loaded is what is on disk now: cli/server.py's Loaded)."""
    import sdjobs

    env = os.environ
    return (f"{sdjobs.__version__}|{os.path.dirname(sdjobs.__file__)}|{sys.executable}|{sys.version}"
            f"|{env.get('PYTHONPATH', '')}|{env.get('SDJOBS_PLUGINS', '')}|{env.get('PYTHONHOME', '')}").encode()


def run() -> None:
    # No collection while the modules load (a tenth of a cold command's CPU): what they make
    # lives until exit. main.run freezes it and turns the collector back on.
    gc.disable()
    if sys.argv[1:2] == ["__complete"]:  # shell completion: fast, read-only, no runner (cli/complete.py)
        from .complete import main

        raise SystemExit(main(sys.argv[2:]))
    if not any(k.endswith("_COMPLETE") for k in os.environ):
        serve = os.environ.get(SWITCH, "1") != "0"
        code = hand_over(sys.argv) if serve else None
        if code is None:
            started = start_runner_early(sys.argv, serve) is not None
            if serve and (started or server_starting(sys.argv)):
                code = hand_over_when_served(sys.argv, SERVED_WITHIN if started else STARTING_WITHIN)
        if code is not None:
            exit_now(code)  # (served: this process has nothing of its own to tear down)
        if scan(sys.argv[1:])[1:] == ("jobs", "ls"):  # with no server: without typer
            from .jobs_ls import fast

            code = fast(sys.argv)
        if code is not None:
            raise SystemExit(code)
    from .main import run as run_here

    run_here()


def exit_now(code: int) -> None:
    """Exit with a served command's code, without the interpreter's teardown: this process
    holds nothing but its standard streams (1-4 ms of a command's wall time)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code & 0xFF)


def start_runner_early(argv: list[str], serve: bool = False) -> int | None:
    """About to run a job command here: start the library's runner now, unless one is alive,
    so that it starts up while this process does (runner/prestart.py); its pid. ``serve``: a
    runner that serves commands at once, so that this one is handed over rather than run here."""
    library, command, sub = scan(argv[1:])
    if command not in JOB_COMMANDS or sub == "ls" or "--help" in argv or "-h" in argv:
        return None
    if any(a == "--on" or a.startswith("--on=") for a in argv):
        return None  # perhaps for another host's runner: the command starts one here only if this host's is wanted
    from ..runner.prestart import prestart
    from ..store.libpath import UnsupportedLibrary, resolve_db_path

    try:
        path = resolve_db_path(library)
    except UnsupportedLibrary:
        return None  # the command itself says why
    return prestart(path, serve=serve and HAND_OVER_POSSIBLE, expect=command if command != "run" else None)


def server_starting(argv: list[str]) -> bool:
    """A command server of this library is starting (it holds cli.lock, its socket is not
    there yet): better wait for it than import the CLI here too."""
    from ..runner.prestart import lock_held
    from ..store.libpath import UnsupportedLibrary, data_dir_of, resolve_db_path

    library, command, _ = scan(argv[1:])
    if command not in SERVED or not HAND_OVER_POSSIBLE:
        return False
    try:
        return lock_held(os.path.join(data_dir_of(resolve_db_path(library)), "cli.lock"))
    except UnsupportedLibrary:
        return False


def hand_over_when_served(argv: list[str], patience: float) -> int | None:
    """Hand ``argv`` over to the command server of the runner just started (or starting),
    once it listens; None (run it here) if that runner dies first or it takes longer than
    ``patience`` seconds."""
    import time

    from ..runner.prestart import runner_alive
    from ..store.libpath import data_dir_of, resolve_db_path

    data_dir = data_dir_of(resolve_db_path(scan(argv[1:])[0]))
    deadline = time.monotonic() + patience
    try:
        while time.monotonic() < deadline:
            code = hand_over(argv)
            if code is not None:
                return code
            if not runner_alive(data_dir):
                return None  # it could not start: this command says why, or starts one itself
            time.sleep(SERVED_POLL)
    except KeyboardInterrupt:  # Ctrl-C before the command began: nothing was submitted
        return INTERRUPTED
    return None


def hand_over(argv: list[str]) -> int | None:
    """Run ``argv`` in a fork of the command server; its exit code, or None to run it here."""
    library, command, _ = scan(argv[1:])
    if command not in SERVED or not HAND_OVER_POSSIBLE:
        return None
    try:
        request = _request(argv)
        conn = _connect(library)
    except OSError:
        return None
    if conn is None:
        return None
    try:
        return _talk(conn, request)
    finally:
        conn.close()


def _request(argv: list[str]) -> bytes:
    import marshal

    for fd in (0, 1, 2):
        os.fstat(fd)  # a closed standard stream: run here, where Python copes with it
    streams = [(s.encoding, s.errors, s.isatty()) if s is not None else None
               for s in (sys.stdin, sys.stdout, sys.stderr)]
    mask = os.umask(0o022)
    os.umask(mask)
    return marshal.dumps((identity(), [os.fsencode(a) for a in argv], os.getcwdb(), dict(os.environb),
                          mask, streams))


# The client imports the C halves (_socket, _struct, _signal): the Python wrappers pull in enum,
# selectors and collections, a good part of what the hand-over saves.

def _connect(library: str | None):
    import _socket as socket

    from ..store.libpath import SERVER_SOCKET, UnsupportedLibrary, data_dir_of, resolve_db_path

    # The socket's own path can pass the 108-byte limit of AF_UNIX; a descriptor of its folder
    # in /proc/self/fd keeps the name short whatever the folder.
    try:
        folder = os.open(data_dir_of(resolve_db_path(library)), os.O_PATH | os.O_DIRECTORY)
    except (OSError, UnsupportedLibrary):  # the command, run here, says why
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(f"/proc/self/fd/{folder}/{SERVER_SOCKET}".encode())
        if not same_user(conn):
            conn.close()
            return None
        return conn
    except OSError:
        conn.close()
        return None
    finally:
        os.close(folder)


def same_user(conn) -> bool:
    import _socket as socket
    import _struct as struct

    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                          struct.calcsize("3i")))
    return uid == os.getuid()


def _talk(conn, request: bytes) -> int | None:
    import _signal as signal
    import _socket as socket
    import _struct as struct

    head = struct.pack("!I", len(request))
    try:
        conn.sendmsg([head], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("3i", 0, 1, 2))])
        conn.sendall(request)
    except OSError:
        return None  # the server went (or turned us away) before it took the command: run here
    accepted = _read(conn, 5)
    if len(accepted) != 5 or accepted[:1] != ACCEPTED:
        return None  # another version, or it cannot enter our directory: run here
    pid = struct.unpack("!i", accepted[1:])[0]
    sent: list[int] = []

    def forward(signum, _frame) -> None:
        sent.append(signum)
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    def stop(_signum, _frame) -> None:  # Ctrl-Z: stop the command, then ourselves, as the shell expects
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, stop)

    for name in FORWARDED:
        signal.signal(getattr(signal, name), forward)
    signal.signal(signal.SIGTSTP, stop)
    reply = _read(conn, 5)
    if len(reply) == 5 and reply[:1] == EXITED:
        return struct.unpack("!i", reply[1:])[0]
    fatal = [s for s in sent if s not in (signal.SIGINT, signal.SIGCONT)]
    if fatal:  # it died of the signal we passed on: so do we
        signal.signal(fatal[-1], signal.SIG_DFL)
        os.kill(os.getpid(), fatal[-1])
    print("sdjobs: error: the command's process ended without an exit status", file=sys.stderr)
    return 1


def _read(conn, n: int) -> bytes:
    data = b""
    while len(data) < n:
        try:
            chunk = conn.recv(n - len(data))
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data
