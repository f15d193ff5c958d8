"""The store imports peewee without the PostgreSQL driver (89 ms of a cold command), and can
hand it the driver later; and peewee itself only when a library is opened with it."""

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
    out = _run("import sdjobs.store.api\n"
               "from sdjobs.store.peewee_lazy import pw\n"
               "pw.SqliteDatabase  # the store's first use imports peewee\n"
               "import peewee, psycopg\n"
               "from sdjobs.store.peewee_lazy import with_psycopg\n"
               "print(peewee.psycopg is None, with_psycopg().psycopg is psycopg, peewee.Json_pg3 is not None)")
    assert out.split() == ["True", "True", "True"]


def test_peewee_is_imported_by_the_first_store_opened_not_by_the_import(tmp_path):
    out = _run("import sys\n"
               "import sdjobs.store.api as api\n"
               "from sdjobs.store.library import Library\n"
               "before = 'peewee' in sys.modules\n"
               f"store = api.Store(Library(__import__('pathlib').Path({str(tmp_path / 'lib.db')!r})))\n"
               "store.submit('copy', 1, {})\n"
               "print(before, 'peewee' in sys.modules, type(store._db).__mro__[1].__module__)")
    assert out.split() == ["False", "True", "peewee"]


def test_the_command_server_loads_peewee_before_it_forks_commands(tmp_path):
    # (else every served command would import it when it opens the library: 30 ms of CPU each)
    out = _run("import sys\nfrom sdjobs.cli import server\n"
               f"server._preload({str(tmp_path / 'library.db')!r})\nprint('peewee' in sys.modules)")
    assert out.split() == ["True"]
