"""Bad input and odd text get one short line and exit 2, with nothing enqueued."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import wait_for


def one_line(proc, code: int = 2) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return lines[-1]


def test_numbers_too_large(cli, store, tmp_path):
    (tmp_path / "a").write_text("x")
    line = one_line(cli("copy", "--bwlimit", "99999999999999999999999T", tmp_path / "a", tmp_path / "b"))
    assert "too large" in line
    assert "range" in one_line(cli("copy", "--priority", "99999999999999999999999", tmp_path / "a", tmp_path / "b"))
    assert store.list_jobs() == []
    job = int(cli("copy", "--detach", tmp_path / "a", tmp_path / "b", check=True).stdout)
    assert "range" in one_line(cli("jobs", "set", job, "--priority", "99999999999999999999999"))
    assert store.get(job).priority == 0


def test_a_huge_value_is_not_echoed_in_full(cli, store, tmp_path):
    huge = "y" * 100_000
    for args in (["run", "copy", "--set", f"verify={huge}", "--set", f"sources={tmp_path}", "--set", "dest=d"],
                 ["run", "copy", "--set", huge], ["copy", "--bwlimit", huge, tmp_path, tmp_path / "d"]):
        proc = cli(*args)
        line = one_line(proc)
        assert len(proc.stderr) < 400 and "100,000 characters" in line, line[:500]
    config = tmp_path / "big.json"
    config.write_text(json.dumps({"sources": [str(tmp_path)], "dest": "d", "verify": "z" * 5_000_000}))
    proc = cli("run", "copy", "--config", config)
    assert len(proc.stderr) < 400 and "5,000,000 characters" in one_line(proc)
    assert store.list_jobs() == []


def test_jobs_show_prints_paths_that_look_like_markup(cli, tmp_path):
    src = tmp_path / "a[" / "x]" / "[bold]b"  # "a[/x]": a closing tag to rich
    src.mkdir(parents=True)
    (src / "[red]f").write_text("x")
    (tmp_path / "c[").mkdir()
    job = int(cli("copy", "--detach", src, tmp_path / "c[" / "y]", check=True).stdout)
    cli("jobs", "wait", job, check=True)
    proc = cli("jobs", "show", job)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert str(src) in proc.stdout and "c[/y]" in proc.stdout


def test_ctrl_c_after_the_job_completed_says_so(lib, store, start_runner, tmp_path):
    start_runner()
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "run", "test-steps", "--set", "steps=10", "--set",
                             "delay=0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SDJOBS_CLI_SERVER": "0"})
    try:
        wait_for(lambda: store.list_jobs() and store.list_jobs()[0].status == "running", what="the job to run")
        os.kill(proc.pid, signal.SIGSTOP)  # the follower sleeps through the job's end, then gets Ctrl-C
        wait_for(lambda: store.list_jobs()[0].status == "completed", what="the job to complete")
        os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.1)
        os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "resume it with" not in err and "completed" in err, err
    assert proc.returncode == 0, err


def test_dashboard_panels_show_markup_like_paths_as_text():
    import io

    from rich.console import Console

    from sdjobs.tui.widgets.info_panel import render_sections

    console = Console(file=io.StringIO(), width=200)
    console.print(render_sections([("job", [("source", "/a[/x]/[bold]b")])]))
    assert "/a[/x]/[bold]b" in console.file.getvalue()


def test_pausing_twice_says_already_paused_and_a_finished_job_has_nothing_to_pause(cli, store):
    queued = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
    done = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"})
    store._sql("UPDATE job SET status='failed', finished_at=created_at WHERE id=?", (done,))
    assert cli("jobs", "pause", queued).stdout.strip() == f"{queued}: paused"
    assert cli("jobs", "pause", queued).stdout.strip() == f"{queued}: already paused"
    assert cli("jobs", "pause", done).stdout.strip() == f"{done}: nothing to pause: it is failed"
