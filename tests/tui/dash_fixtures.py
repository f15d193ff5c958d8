"""Fixtures for the dashboard tests (imported by the test modules: a conftest.py here would
shadow tests/conftest.py for modules that do `from conftest import ...`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def chatty(lib, monkeypatch):
    """Runners also load tests/tui/dashjobs.py (the `test-chatty` job type)."""
    monkeypatch.setenv("SDJOBS_PLUGINS", "testjobs,dashjobs")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ["PYTHONPATH"]]))
    import dashjobs  # noqa: F401  (registered here too, so the dashboard knows the type)

    return lib


@pytest.fixture
def fixed(tmp_path, monkeypatch):
    """The fixed library of tests/tui/fixed_library.py, in UTC, with colours."""
    import fixed_library

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.delenv("NO_COLOR", raising=False)
    store = fixed_library.build(tmp_path / "library.db")
    yield store
    for runner in store.runners(live_only=False):
        store.unregister_runner(runner.id)
    store.close()
    monkeypatch.undo()
    time.tzset()
