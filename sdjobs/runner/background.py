"""Entry point of a runner that a command started on demand.

    python -m sdjobs.runner.background LIBRARY_DB IDLE_EXIT_SECONDS
        [--workers N] [--lock-fd FD] [--first-idle-exit SECONDS] [--serve 1] [--expect TYPE]

It skips the command-line layer (typer and click: about 80 ms of imports), so
that the first job submitted with no runner alive starts that much sooner.
``--lock-fd`` is the runner.lock descriptor a command passed on (prestart.py);
``--first-idle-exit`` is how long to wait for a first job before exiting.
``--serve 1`` (a runner started by a cold command, prestart.py): import the
command-line layer too and fork the command server at once, before the loop, so
that the command that started it, waiting for the server, is served: one import
of the CLI, not one in the command and another in a server started later.
``--expect TYPE``: the job type the command that started it is about to submit;
its modules are imported before the server is forked (the command needs them for
the type's prepare and validate; imported once for both), so that its job
process is forked warm too (the other types' wait for the first idle).
``sdjobs runner`` remains the entry point for people and service managers.
"""

from __future__ import annotations

import gc
import os
import sys


def main(argv: list[str]) -> int:
    gc.disable()  # no collection while the modules load: what they make lives until exit
    db, idle = argv[0], float(argv[1])
    opts = dict(zip(argv[2::2], argv[3::2], strict=False))
    from . import prestart

    if "--lock-fd" in opts:
        prestart.adopt(int(opts["--lock-fd"]))
    from ..store.library import resolve

    workers = int(opts["--workers"]) if "--workers" in opts else None
    first = float(opts["--first-idle-exit"]) if "--first-idle-exit" in opts else None
    library = resolve(db)  # absolute, before it leaves the directory it was started from
    os.chdir("/")  # a daemon must not keep that directory busy (umount fails while it does)
    server = None
    expected = opts.get("--expect")
    if opts.get("--serve") == "1" and os.environ.get("SDJOBS_CLI_SERVER", "1") != "0":
        from ..cli import server as cli_server
        from ..store import api  # noqa: F401 - the runner's and the server's common part, imported once
        from ..store.peewee_lazy import library_database

        library_database()  # (peewee: imported at the store's first use, here before the fork)
        if expected:  # the command needs them too (its job type's prepare and validate): imported once
            _warm_up(expected)

        # the server imports the CLI while this process imports the supervisor: two cores at work
        server = cli_server.fork(str(library.db_path), os.getpid())
    from .supervisor import STORE_MODULES, Supervisor

    sup = Supervisor(library, workers, idle_exit=idle, first_idle_exit=first, mode="background")
    if server is not None:
        sup.served_by(server)
    if expected:
        _warm_up(expected, *STORE_MODULES)  # (what its job imports at its end: the runner's alone)
    gc.freeze()  # what the imports made lives until exit: keep the collector off it
    gc.enable()
    try:
        return sup.run()
    except Exception as exc:  # its log gets one line for a library gone bad, not a traceback
        from ..store.library import LibraryUnusable, storage_fault

        fault = exc if isinstance(exc, LibraryUnusable) else storage_fault(exc, library)
        if fault is None:
            raise
        print(f"sdjobs runner: stopped: {fault}", file=sys.stderr, flush=True)
        return 1


def _warm_up(job_type: str, *more: str) -> None:
    """Import the modules of built-in job type ``job_type`` (its job then starts warm), and ``more``."""
    import importlib

    from ..core import registry
    from ..jobs import BUILTIN

    if job_type not in BUILTIN:
        return
    try:
        importlib.import_module(BUILTIN[job_type])
        cls = registry.find(job_type)
        for name in (*(cls.preload if cls is not None else ()), *more):
            importlib.import_module(name)
    except Exception:  # noqa: BLE001 - its job's own import says what is wrong
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
