"""Extension parity: examples/sdjobs-linecount, installed for real, is a job like any built-in one.

The package is pip-installed into a temporary target and found only through its
``sdjobs.jobs`` entry point (its dist-info on PYTHONPATH; SDJOBS_PLUGINS is empty).
Then the real CLI and runner submit it, pause it, SIGKILL the runner's process
group, resume it and finish it, and its result equals an uninterrupted run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, wait_for

EXAMPLE = ROOT / "examples" / "sdjobs-linecount"
EXTS = [".py", ".c", ".rs", ".md", ".sh"]
LANG = {".py": "Python", ".c": "C", ".rs": "Rust", ".md": "Markdown", ".sh": "Shell"}


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("example") / EXAMPLE.name
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-input", "--disable-pip-version-check",
           "--target", str(target), str(src)]
    errors = []
    # Offline and fast when the build backend is at hand; otherwise pip fetches it (build isolation).
    for cmd in (pip[:4] + ["--no-build-isolation"] + pip[4:], pip):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode == 0:
            break
        errors.append(proc.stdout[-1500:] + proc.stderr[-1500:])
    else:
        raise AssertionError("cannot pip-install the example package:\n" + "\n".join(errors))
    eps = (target / "sdjobs_linecount-0.1.0.dist-info" / "entry_points.txt").read_text()
    assert "[sdjobs.jobs]" in eps and "linecount = sdjobs_linecount" in eps
    return target


@pytest.fixture
def plugin(lib, plugin_site, monkeypatch) -> Path:
    """The example installed; plugins come only from entry points."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plugin_site), os.environ["PYTHONPATH"]]))
    monkeypatch.setenv("SDJOBS_PLUGINS", "")
    return plugin_site


def live_runner(start_runner, store, *args: str):
    """A runner that has registered, so that submitting does not start a second (background) one."""
    runner = start_runner(*args)
    wait_for(lambda: any(r.pid == runner.proc.pid for r in store.runners()), what="the runner")
    return runner


def make_tree(root: Path, n: int = 200) -> dict[str, int]:
    """Source files of several languages (plus noise), and the line counts expected."""
    expected: dict[str, int] = {}
    for i in range(n):
        ext = EXTS[i % len(EXTS)]
        d = root / f"pkg{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        lines = (i * 37) % 50 + 1
        (d / f"f{i:03d}{ext}").write_text("x = 1\n" * lines)
        expected[LANG[ext]] = expected.get(LANG[ext], 0) + lines
    (root / "pkg0" / "notes.txt").write_text("not code\n" * 5)
    return expected


def test_the_plugin_is_found_only_through_its_entry_point(lib, cli, plugin_site, monkeypatch):
    monkeypatch.setenv("SDJOBS_PLUGINS", "")
    assert cli("types", "linecount").returncode == 2  # not installed here: unknown
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plugin_site), os.environ["PYTHONPATH"]]))
    [info] = cli.json("types", "linecount")
    assert info["description"] == "Count lines of code by language"
    assert info["source"] == "sdjobs_linecount" and info["resumable"] is True
    assert [(f["name"], f["type"], f["required"]) for f in info["fields"]] == [
        ("paths", "list[str]", True), ("pace", "float", False)]
    assert "linecount" in cli("types").stdout
    bad = cli("run", "linecount", "--set", f"paths={lib.parent}", "--set", "pace=fast")
    assert bad.returncode == 2 and "field 'pace'" in bad.stderr
    assert cli("run", "linecount", "--set", f"paths={lib.parent / 'nope'}").returncode == 2
    assert cli.json("jobs", "ls") == []


def test_submit_pause_sigkill_resume_finish(plugin, store, cli, start_runner, tmp_path):
    tree = tmp_path / "src"
    expected = make_tree(tree)
    (tree / "pkg0" / "000-gone.py").symlink_to(tmp_path / "missing.py")  # an unreadable file: an error
    runner = live_runner(start_runner, store, "--workers", "2")
    job = int(cli("run", "linecount", "--set", f"paths={tree}", "--set", "pace=0.02", "--detach",
                  check=True).stdout)

    def done() -> int:
        return cli.json("jobs", "show", str(job))["progress"].get("done") or 0

    wait_for(lambda: done() >= 30, what="progress")
    cli("jobs", "pause", job, check=True)
    wait_for(lambda: cli.json("jobs", "show", str(job))["status"] == "paused", what="paused", timeout=10)
    at_pause = done()
    cli("jobs", "resume", job, check=True)
    wait_for(lambda: done() >= at_pause + 40, what="progress after resume")
    runner.kill_group()
    assert cli.json("jobs", "show", str(job))["status"] == "interrupted"  # its runner is gone

    start_runner("--workers", "2")
    assert cli("jobs", "wait", job, timeout=90).returncode == 1  # completed, with the one error
    shown = cli.json("jobs", "show", str(job))
    assert shown["type"] == "linecount" and shown["status"] == "completed-with-errors"
    assert shown["output"] == {"files": 201, "lines": dict(sorted(expected.items()))}
    errors = [i["path"] for i in shown["issues"] if i["kind"] == "error"]
    assert shown["errors"] == 1 and errors == [str(tree / "pkg0" / "000-gone.py")]  # kept across the resumes
    assert shown["attempts"] == 1 and shown["claim"] == 3 and shown["items_done"] >= 201  # a pause is no attempt
    assert [j["id"] for j in cli.json("jobs", "ls", "--type", "linecount")] == [job]
    human = cli("jobs", "show", job, check=True).stdout
    assert "linecount" in human and "completed-with-errors" in human and "lines" in human

    again = cli("run", "linecount", "--set", f"paths={tree}", "--json")  # uninterrupted, followed
    assert again.returncode == 1
    import json

    assert json.loads(again.stdout)["output"] == shown["output"]
    assert "lines in 201 files" in again.stderr


def test_cancel_and_fan_out_limits_apply_to_a_plugin_job(plugin, store, cli, start_runner, tmp_path):
    tree = tmp_path / "src"
    make_tree(tree, 100)
    live_runner(start_runner, store, "--workers", "2")
    job = int(cli("run", "linecount", "--set", f"paths={tree}", "--set", "pace=0.05", "--max-workers", "1",
                  "--detach", check=True).stdout)
    wait_for(lambda: (cli.json("jobs", "show", str(job))["progress"].get("done") or 0) >= 5, what="progress")
    assert cli.json("jobs", "show", str(job))["settings"] == {"max_workers": 1}
    cli("jobs", "cancel", job, check=True)
    assert cli("jobs", "wait", job, timeout=30).returncode == 1
    assert cli.json("jobs", "show", str(job))["status"] == "cancelled"


def test_the_guide_shows_the_example_as_it_is():
    """docs/writing-jobs.md embeds the example package verbatim: the docs cannot drift from the code."""
    guide = (ROOT / "docs" / "writing-jobs.md").read_text()
    for name, lang in (("sdjobs_linecount.py", "python"), ("pyproject.toml", "toml")):
        assert f"```{lang}\n{(EXAMPLE / name).read_text()}```" in guide, f"{name} differs from the guide"
    code = (EXAMPLE / "sdjobs_linecount.py").read_text()
    assert len(code.splitlines()) <= 75  # "about 50 lines": a new job type stays small
