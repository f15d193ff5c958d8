"""Fixtures for the dashboard tests."""

from __future__ import annotations

import os
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
