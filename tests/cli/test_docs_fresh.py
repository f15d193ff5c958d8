"""Completions and the man page are generated from the CLI and must not drift from it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_docs.py"
ENV_VARS = ("SDJOBS_LIBRARY", "SDJOBS_DEBUG", "SDJOBS_PLUGINS", "SDJOBS_RUNNER_IDLE_EXIT", "NO_COLOR",
            "XDG_DATA_HOME", "XDG_CACHE_HOME")


def _load():
    spec = importlib.util.spec_from_file_location("gen_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _load()


@pytest.fixture(scope="module")
def generated(gen):
    return {str(path): text for path, text in gen.generate().items()}


@pytest.fixture(scope="module")
def tree(gen):
    return gen.read_tree()


def test_generated_files_are_up_to_date(generated):
    stale = [rel for rel, text in generated.items()
             if not (ROOT / rel).exists() or (ROOT / rel).read_text() != text]
    assert not stale, f"out of date with the CLI: {stale}; run: python scripts/gen_docs.py"


def test_generation_depends_on_nothing_but_the_code(tmp_path, generated):
    """Another terminal width, locale, library and time zone give the same files."""
    env = {**os.environ, "COLUMNS": "37", "LANG": "C", "LC_ALL": "C", "TZ": "Asia/Kolkata",
           "SDJOBS_LIBRARY": str(tmp_path / "elsewhere.db"), "XDG_DATA_HOME": str(tmp_path), "NO_COLOR": "1"}
    code = (f"import json, sys; sys.path.insert(0, {str(SCRIPT.parent)!r}); import gen_docs; "
            "print(json.dumps({str(k): v for k, v in gen_docs.generate().items()}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    import json

    assert json.loads(proc.stdout) == generated


def test_every_command_option_exit_code_and_variable_is_in_the_man_page(gen, tree, generated):
    page = generated["man/sdjobs.1"]
    roff = lambda s: s.replace("-", "\\-")  # noqa: E731
    commands = list(tree.walk())
    assert len(commands) > 5
    for cmd in commands[1:]:
        assert f'.SS "{roff(cmd.usage)}"' in page, cmd.key
        for opt in cmd.options:
            for name in opt.names:
                assert roff(name) in page, (cmd.key, name)
    section = page.split(".SH EXIT STATUS")[1].split(".SH ")[0]
    for code, name, _ in gen.exit_codes():
        assert f"\\fB{code}\\fR" in section and name in section
    env = page.split(".SH ENVIRONMENT")[1].split(".SH ")[0]
    for var in ENV_VARS:
        assert f"\\fB{var}\\fR" in env
    assert ".SH FILES" in page and "library.db" in page


def test_every_command_and_option_is_in_each_completion(tree, generated):
    for rel in ("completions/sdjobs.bash", "completions/_sdjobs", "completions/sdjobs.fish"):
        text = generated[rel]
        for cmd in tree.walk():
            for child in cmd.children:
                assert child.path[-1] in text, (rel, child.key)
            for opt in cmd.options:
                for name in opt.names:
                    assert name.lstrip("-") in text, (rel, cmd.key, name)


def test_man_page_renders_without_warnings():
    if not shutil.which("groff"):
        pytest.skip("groff is not installed")
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(ROOT / "man" / "sdjobs.1")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def _bash_complete(*words: str) -> list[str]:
    script = f"""
source {ROOT / 'completions' / 'sdjobs.bash'}
COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
_sdjobs; printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_bash_completion_walks_the_command_tree(tmp_path):
    assert {"jobs", "dash", "runner", "copy"} <= set(_bash_complete("sdjobs", ""))
    assert "ls" in _bash_complete("sdjobs", "jobs", "")
    assert _bash_complete("sdjobs", "-L", "/tmp/lib.db", "jobs", "ls", "--j") == ["--json"]
    assert "--job" in _bash_complete("sdjobs", "dash", "--")
    assert _bash_complete("sdjobs", "runner", "st") == ["status", "stop"]
    (tmp_path / "photos").mkdir()
    assert _bash_complete("sdjobs", "copy", str(tmp_path / "pho")) == [str(tmp_path / "photos")]


def test_zsh_completion_parses():
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed")
    proc = subprocess.run(["zsh", "-n", str(ROOT / "completions" / "_sdjobs")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_fish_completion_completes():
    if not shutil.which("fish"):
        pytest.skip("fish is not installed")
    script = f"source {ROOT / 'completions' / 'sdjobs.fish'}; complete -C 'sdjobs jobs '; complete -C 'sdjobs dash --'"
    proc = subprocess.run(["fish", "-c", script], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    words = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert "ls" in words and "pause" in words and "--job" in words
