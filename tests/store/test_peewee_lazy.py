"""The store imports peewee without the PostgreSQL driver (89 ms of a cold command), and can
hand it the driver later."""

import subprocess
import sys

import pytest


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_the_store_does_not_import_psycopg():
    out = _run("import sys, sdjobs.store.api; print(sorted(m for m in sys.modules if m.startswith('psycopg')))")
    assert out.strip() == "[]"


def test_psycopg_is_still_importable_and_peewee_gets_it_on_demand():
    pytest.importorskip("psycopg")
    out = _run("import sdjobs.store.api, peewee, psycopg\n"
               "from sdjobs.store.peewee_lazy import with_psycopg\n"
               "print(peewee.psycopg is None, with_psycopg().psycopg is psycopg, peewee.Json_pg3 is not None)")
    assert out.split() == ["True", "True", "True"]
