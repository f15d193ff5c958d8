"""Schedules store the job they submit (type, config, settings) and submit it through the store:
relative paths and copy targets are resolved at each run from the directory the schedule was
added in, settings reach the job, commands that submit no job (or would need a terminal) are
refused when added, and a schedule of an older library (its command line only) keeps running:
its first run stores the job it stands for."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

from sdjobs.runner.scheduler import Scheduler
from sdjobs.store import schedules
from sdjobs.store.api import Store
from sdjobs.store.library import Library

HOUR = 3600.0


def sd(cwd, *args: str) -> subprocess.CompletedProcess:
    """The CLI run from ``cwd`` (where a schedule's relative paths resolve)."""
    return subprocess.run([sys.executable, "-m", "sdjobs", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env=dict(os.environ))


def add(store, cwd, cron: str, *command: str) -> int:
    """Add a schedule, then stop the runner `schedule add` starts: the test serves it itself."""
    from sdjobs.runner.daemon import stop_runners

    proc = sd(cwd, "schedule", "add", cron, "--", *command)
    assert proc.returncode == 0, proc.stderr
    stop_runners(store, wait=20)
    return int(proc.stdout)


def run_due(store, sid: int) -> schedules.ScheduleRecord:
    """Serve the schedule once, as a runner's tick would, and wait for its submission."""
    store._sql("UPDATE schedule SET checked_at=? WHERE id=?", (time.time() - 2 * HOUR, sid))
    scheduler = Scheduler(store)
    scheduler.tick(force=True)
    assert scheduler.submitting, "nothing was due"
    scheduler.close(30)
    assert not scheduler.submitting
    return schedules.get(store, sid)


def test_a_schedule_stores_its_job_and_submits_it_through_the_store(store, cli, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_text("x")
    sid = add(store, tmp_path, "@hourly", "copy", "src", "dst", "--bwlimit", "1M", "--max-workers", "2", "-p", "3")
    s = schedules.get(store, sid)
    assert s.job is not None and s.job.type == "copy" and s.job.action == "copy"
    assert s.job.config["sources"] == ["src"] and s.job.config["dest"] == "dst", "as typed: resolved at each run"
    assert s.job.settings == {"bwlimit": 1 << 20, "max_workers": 2} and s.job.priority == 3
    assert s.argv == ["copy", "src", "dst", "--bwlimit", "1M", "--max-workers", "2", "-p", "3"]

    s = run_due(store, sid)
    assert s.last_error is None and s.runs == 1, s.last_error
    job = store.get(s.last_job_id)
    assert job.type == "copy" and job.priority == 3
    assert job.config["sources"] == [str(tmp_path / "src")] and job.config["targets"] == [str(tmp_path / "dst")]
    assert job.context["schedule"]["id"] == sid and job.context["initiator"] == f"schedule {sid}"
    assert job.context["cwd"] == str(tmp_path) and job.context["action"] == "copy"
    [row] = cli.json("schedule", "ls")
    assert row["job"]["type"] == "copy" and row["command"] == "copy src dst --bwlimit 1M --max-workers 2 -p 3"


def test_copy_targets_are_worked_out_at_each_run_as_cp_would(store, cli, tmp_path):
    (tmp_path / "src").mkdir()
    sid = add(store, tmp_path, "@hourly", "copy", "src", "dst")
    first = store.get(run_due(store, sid).last_job_id)
    cli("jobs", "cancel", first.id, check=True)  # (a run whose previous job is still queued is skipped)
    (tmp_path / "dst").mkdir()  # by the next run the destination is a directory: the copy goes into it
    second = store.get(run_due(store, sid).last_job_id)
    assert first.config["targets"] == [str(tmp_path / "dst")]
    assert second.config["targets"] == [str(tmp_path / "dst" / "src")]


def test_a_run_command_keeps_its_config_and_inputs(store, cli, tmp_path):
    sid = add(store, tmp_path, "@daily", "run", "test-steps", "--set", "steps=2", "--set", "delay=0")
    [row] = cli.json("schedule", "ls")
    assert row["id"] == sid and row["job"]["type"] == "test-steps"
    assert {k: row["job"]["config"][k] for k in ("steps", "delay")} == {"steps": 2, "delay": 0.0}
    assert row["job"]["inputs"] == {"steps": "2", "delay": "0"}


def test_what_cannot_be_a_schedule_is_refused_when_added(cli, tmp_path):
    (tmp_path / "f").write_text("x")
    for command, message in [
        (["run", "test-steps", "--after", "1"], "cannot wait --after"),
        (["index", str(tmp_path), "--ephemeral"], "--ephemeral submits no job"),
        (["delete", str(tmp_path / "f"), "--mode", "permanent"], "without --yes"),
    ]:
        proc = sd(tmp_path, "schedule", "add", "@daily", "--", *command)
        assert proc.returncode == 2 and message in proc.stderr, (command, proc.stderr)
    assert (tmp_path / "f").exists()
    assert cli.json("schedule", "ls") == []


def test_a_schedule_from_an_older_library_is_migrated_and_keeps_running(lib, tmp_path):
    """A library whose schedule table is v1 (a command line, no job) is migrated to v2; the
    schedule's first run works its job out from the command line, submits it and keeps it."""
    store = Store(Library(lib))
    store.close()
    src = tmp_path / "src"
    src.mkdir()
    db = sqlite3.connect(lib)
    for column in ("job_type", "config", "settings", "options"):
        db.execute(f"ALTER TABLE schedule DROP COLUMN {column}")  # the table as v1 made it
    db.execute("UPDATE schema_version SET version=1 WHERE component='schedule'")
    from sdjobs.core import codec

    db.execute("INSERT INTO schedule (cron, argv, cwd, created_at, checked_at) VALUES (?,?,?,?,?)",
               ("@hourly", codec.pack(["copy", "src", "dst", "--bwlimit", "2M"]), codec.pack(str(tmp_path)),
                time.time(), time.time()))
    db.commit()
    db.close()

    store = Store(Library(lib))  # migrates
    try:
        [old] = schedules.all_schedules(store)
        assert old.job is None and old.argv[0] == "copy"
        s = run_due(store, old.id)
        assert s.last_error is None and s.runs == 1, s.last_error
        job = store.get(s.last_job_id)
        assert job.type == "copy" and job.config["sources"] == [str(src)]
        assert job.context["schedule"]["id"] == old.id
        assert s.job is not None and s.job.type == "copy" and s.job.settings == {"bwlimit": 2 << 20}
        assert s.job.config["sources"] == ["src"]
    finally:
        store.close()
