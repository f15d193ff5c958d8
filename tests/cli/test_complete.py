"""Dynamic shell completion: `sdjobs __complete` reads the library read-only and fast, and the bash
script completes job ids, types, statuses, themes, and paths with spaces as one word."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sdjobs.cli import complete

ROOT = Path(__file__).resolve().parents[2]
BASH = ROOT / "completions" / "sdjobs.bash"


def sdjobs_complete(*args: str, env: dict | None = None) -> list[str]:
    proc = subprocess.run([sys.executable, "-m", "sdjobs", "__complete", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=30)
    assert proc.returncode == 0 and proc.stderr == "", proc
    return proc.stdout.splitlines()


def test_ids_come_with_type_and_status_newest_first_and_filter_by_status(store):
    a = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
    b = store.submit("validate", 1, {"paths": ["/a"]})
    store._sql("UPDATE job SET status='failed' WHERE id=?", (b,))
    assert sdjobs_complete("ids") == [f"{b}\tvalidate failed", f"{a}\tcopy queued"]
    assert sdjobs_complete("ids", "failed", "cancelled") == [f"{b}\tvalidate failed"]
    assert "validate" in sdjobs_complete("types") and "failed" in sdjobs_complete("statuses")


def test_a_missing_library_is_not_created_and_no_runner_starts(tmp_path):
    lib = tmp_path / "nothing" / "library.db"
    assert sdjobs_complete("ids", env={"SDJOBS_LIBRARY": str(lib)}) == []
    assert not lib.exists() and not lib.parent.exists()


def test_it_imports_nothing_heavy(lib):
    code = ("import sys; sys.argv = ['sdjobs', '__complete', 'ids']\n"
            "from sdjobs.cli import launch\n"
            "try:\n    launch.run()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('typer', 'click', 'rich', 'peewee', 'textual', 'sdjobs.store.api',"
            " 'sdjobs.runner') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert "HEAVY []" in proc.stderr, proc.stderr


def test_themes_are_textuals():
    from textual.theme import BUILTIN_THEMES

    assert sorted(complete.THEMES) == sorted(BUILTIN_THEMES)


def test_statuses_are_the_cores():
    from sdjobs.core.status import Status

    assert sorted(complete.STATUSES) == sorted(s.value for s in Status)


def bash_complete(line: str, cwd: Path, env: dict | None = None) -> list[str]:
    """COMPREPLY for ``line`` (completing its last word), from the generated script in a real bash."""
    words = line.split(" ")
    script = (f"source {BASH}\n"
              f"COMP_WORDS=({' '.join(repr(w) if w else repr('') for w in words)})\n"
              f"COMP_CWORD={len(words) - 1}\n"
              "_sdjobs\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    bin_dir = cwd / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "sdjobs"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m sdjobs \"$@\"\n")
    shim.chmod(0o755)
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                          cwd=cwd, timeout=60,
                          env={**os.environ, **(env or {}), "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.split("\n") if w]


def test_bash_completes_ids_for_the_verb_that_can_use_them(store, tmp_path):
    queued = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
    failed = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
    store._sql("UPDATE job SET status='failed' WHERE id=?", (failed,))
    assert bash_complete("sdjobs jobs retry ", tmp_path) == [str(failed)]
    assert bash_complete("sdjobs jobs show ", tmp_path) == [str(failed), str(queued)]
    assert bash_complete("sdjobs dash --theme ansi", tmp_path) == ["ansi-dark", "ansi-light"]
    assert bash_complete("sdjobs jobs ls --status comp", tmp_path) == ["completed", "completed-with-errors"]


def test_bash_keeps_a_path_with_spaces_as_one_word(lib, tmp_path):
    (tmp_path / "My Photos 2021").mkdir()
    (tmp_path / "My Music").mkdir()
    assert sorted(bash_complete("sdjobs copy My", tmp_path)) == ["My Music", "My Photos 2021"]


FISH = ROOT / "completions" / "sdjobs.fish"


def fish_complete(line: str) -> list[str]:
    """What fish offers for ``line`` with the generated script (``complete -C``), this sdjobs on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.run(["fish", "--no-config", "-c", f"source {FISH}; complete -C '{line}'"], capture_output=True,
                          text=True, env={**os.environ, "PATH": path}, timeout=60)
    assert proc.returncode == 0, proc
    return proc.stdout.splitlines()


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed")
def test_fish_completes_the_ids_each_verb_accepts_with_type_and_status(store):
    queued = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
    failed = store.submit("dupes", 1, {"paths": ["/x"]})
    store._sql("UPDATE job SET status='failed', finished_at=created_at WHERE id=?", (failed,))
    assert fish_complete("sdjobs jobs retry ") == [f"{failed}\tdupes failed"]
    assert fish_complete("sdjobs jobs pause ") == [f"{queued}\tcopy queued"]
    assert f"{queued}\tcopy queued" in fish_complete("sdjobs jobs show ")
