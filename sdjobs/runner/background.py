"""Entry point of a runner that a command started on demand.

    python -m sdjobs.runner.background LIBRARY_DB IDLE_EXIT_SECONDS [WORKERS]

It skips the command-line layer (typer and click: about 80 ms of imports), so
that the first job submitted with no runner alive starts that much sooner.
``sdjobs runner`` remains the entry point for people and service managers.
"""

from __future__ import annotations

import gc
import sys


def main(argv: list[str]) -> int:
    from ..store.library import resolve
    from .supervisor import Supervisor

    db, idle = argv[0], float(argv[1])
    workers = int(argv[2]) if len(argv) > 2 else None
    sup = Supervisor(resolve(db), workers, idle_exit=idle, mode="background")
    gc.freeze()  # what the imports made lives until exit: keep the collector off it
    return sup.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
