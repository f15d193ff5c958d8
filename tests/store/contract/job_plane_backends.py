"""The backends the job-plane contract runs against. Each entry opens a client of the store
kept in a directory (a fresh directory: an empty store); opened twice on the same directory,
two clients of one store. A second backend (PostgreSQL, issue 18) adds itself here and runs
``test_job_plane.py`` unchanged.

(Not a conftest.py: the suite's other tests import helpers ``from conftest``, and a second
module of that name would shadow tests/conftest.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest


def sqlite_store(tmp: Path):
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    return Store(Library(tmp / "lib" / "library.db"))


BACKENDS: dict[str, Callable] = {"sqlite": sqlite_store}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request) -> Callable:
    return BACKENDS[request.param]


@pytest.fixture
def job_plane(backend, tmp_path) -> Iterator:
    store = backend(tmp_path)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def another_client(backend, job_plane, tmp_path) -> Iterator:
    """A second client of ``job_plane``'s store (another process would see the same)."""
    store = backend(tmp_path)
    try:
        yield store
    finally:
        store.close()
