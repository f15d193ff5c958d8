"""A runner alive before a plugin was installed (or before $SDJOBS_PLUGINS named it) runs its
jobs anyway: the registry looks again when it meets a job type it does not know."""

from __future__ import annotations

import os
import shutil

from conftest import wait_for
from test_example_plugin import plugin_site  # noqa: F401  (the pip-installed example, a fixture)


def test_a_plugin_installed_while_a_runner_lives(lib, store, cli, start_runner, plugin_site, tmp_path,  # noqa: F811
                                                 monkeypatch):
    late = tmp_path / "site-late"
    late.mkdir()  # on every process's path, empty until "pip install" below
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(late), os.environ["PYTHONPATH"]]))
    monkeypatch.setenv("SDJOBS_PLUGINS", "")
    runner = start_runner("--workers", "1")
    assert cli("types", "linecount").returncode == 2
    wait_for(lambda: (lib.parent / "library-data" / "cli.sock").exists(), what="the command server")
    for entry in plugin_site.iterdir():
        (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, late / entry.name)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\ny = 2\n")
    r = cli("run", "linecount", "--set", f"paths={tmp_path / 'src'}", "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    assert '"Python": 2' in r.stdout
    assert [x.pid for x in store.runners()] == [runner.proc.pid]  # the runner alive before the install ran it


def test_a_plugin_named_by_the_command_but_not_the_runner(lib, store, cli, start_runner, monkeypatch):
    monkeypatch.setenv("SDJOBS_PLUGINS", "")
    runner = start_runner("--workers", "1")
    r = cli("run", "test-steps", "--set", "steps=2", "--set", "delay=0.01", env={"SDJOBS_PLUGINS": "testjobs"},
            timeout=60)
    assert r.returncode == 0, r.stderr
    assert [x.pid for x in store.runners()] == [runner.proc.pid]
