"""The backends the job-plane contract (``test_job_plane.py``) runs against.

Each entry opens a client of the store kept in a directory: on a fresh directory, an empty
store; opened twice on the same directory, two clients of one store. A second backend
(PostgreSQL, issue 18) adds itself here and runs ``test_job_plane.py`` unchanged.

(Not a conftest.py: the suite's other tests import helpers ``from conftest``, and a second
module of that name would shadow tests/conftest.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def sqlite_store(tmp: Path):
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    return Store(Library(tmp / "lib" / "library.db"))


BACKENDS: dict[str, Callable] = {"sqlite": sqlite_store}
