"""`jobs logs`: a job's lifecycle, in order, through the CLI with real runners and real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from conftest import wait_for

MB = 1024 * 1024


def run(*args) -> tuple[int, subprocess.CompletedProcess]:
    """An sdjobs command, and the pid of the process the user started (as the log should name it)."""
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return proc.pid, subprocess.CompletedProcess(args, proc.returncode, out, err)


def kinds(text: str) -> list[str]:
    return [line.split()[2] for line in text.splitlines() if line[:2] == "20"]


def test_paused_resumed_killed_and_resumed_copy_logs_each_event_in_order_with_the_runner_pids(
        cli, store, start_runner, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(6 * MB))
    first = start_runner("--workers", "1")
    job = int(cli("copy", src, tmp_path / "dst", "--bwlimit", "1M", "--detach", check=True).stdout)
    wait_for(lambda: store.get(job).bytes_done > 0 or store.get(job).progress.bytes_done, what="copying")

    pauser, _ = run("jobs", "pause", job)
    wait_for(lambda: store.get(job).status == "paused", what="paused")
    resumer, _ = run("jobs", "resume", job)
    # running again: its process has recorded its claim (its pid is set just before: a runner
    # killed in between would leave no "claimed" of this run, which the order below expects)
    wait_for(lambda: len(store.events(job, kinds=["claimed"])) == 2, what="running again")
    wait_for(lambda: (store.get(job).progress.bytes_done or 0) > 0, what="copying again")
    first.proc.send_signal(signal.SIGKILL)  # the runner, as the OOM killer would: its job dies with it
    first.proc.wait(10)
    second_resumer, _ = run("jobs", "resume", job)  # (starts a runner: none is alive)
    assert cli("jobs", "wait", job, timeout=90).returncode == 0
    assert (tmp_path / "dst" / "big.bin").read_bytes() == (src / "big.bin").read_bytes()

    text = cli("jobs", "logs", job, check=True).stdout
    order = [k for k in kinds(text) if k not in ("phase-start", "phase-end", "log", "warning")]
    assert order == ["submitted", "claimed", "pause-requested", "paused", "resume-requested", "claimed",
                     "interrupted", "resume-requested", "claimed", "finished"], text
    lines = {k: [line for line in text.splitlines() if line.split()[2:3] == [k]] for k in set(order)}
    runner1 = first.proc.pid
    claims = lines["claimed"]
    assert f"(pid {runner1} " in claims[0] and f"(pid {runner1} " in claims[1], text
    assert f"(pid {runner1} " not in claims[2] and "resuming from its checkpoint" in claims[2], text
    assert f"pid {runner1} " in lines["interrupted"][0] and "died" in lines["interrupted"][0], text
    asked = lines["pause-requested"][0]
    assert f"pid {pauser}) running `sdjobs jobs pause {job}`: pausing" in asked, text
    assert f"pid {resumer})" in lines["resume-requested"][0]
    assert f"pid {second_resumer})" in lines["resume-requested"][1]
    assert lines["finished"][0].split()[3] == "completed:"
    assert "phase copy started" in text

    # the same events for programs: JSON Lines with stable keys, ending with the outcome
    rows = [json.loads(line) for line in cli("jobs", "logs", job, "--json", check=True).stdout.splitlines()]
    events = [r for r in rows if r["kind"] != "end"]
    assert [r["kind"] for r in events if r["kind"] in order] == order
    assert all(set(r) == {"kind", "id", "job", "ts", "time", "run", "message", "path", "fields"} for r in events)
    claimed = [r["fields"] for r in events if r["kind"] == "claimed"]
    assert [c["runner_pid"] == runner1 for c in claimed] == [True, True, False]
    assert [c["attempt"] for c in claimed] == [1, 1, 2]  # the runner's death counted one attempt
    assert [r["fields"]["reason"] for r in events if r["kind"] == "interrupted"] == ["runner-died"]
    assert rows[-1]["kind"] == "end" and rows[-1]["status"] == "completed" and rows[-1]["exit_code"] == 0


def test_the_docs_name_every_kind_and_key_written():
    from pathlib import Path

    from sdjobs.cli.jobs_logs import event_json
    from sdjobs.store.events import LIFECYCLE
    from sdjobs.store.records import Event

    doc = (Path(__file__).parents[2] / "docs" / "events.md").read_text()
    for kind in LIFECYCLE:
        assert f"`{kind}`" in doc, kind
    for key in event_json(Event(1, 1, 0.0, "log", None, "m")):
        assert f"`{key}`" in doc, key
    for key in ("exit_code", "exit_meaning", "summary", "error", "category", "output", "status"):
        assert f"`{key}`" in doc, key


def test_a_runner_stopped_by_sigterm_logs_why_its_job_was_interrupted(cli, store, start_runner):
    from conftest import submit

    job = submit(store, "test-steps", {"steps": 100, "delay": 0.05})
    runner = start_runner("--workers", "1")
    wait_for(lambda: (store.get(job).progress.done or 0) >= 2, what="the job to run")
    assert runner.terminate() == 0
    rows = [json.loads(line) for line in cli("jobs", "logs", job, "--json", check=True).stdout.splitlines()]
    stopped = [r for r in rows if r["kind"] == "interrupted"]
    assert len(stopped) == 1, rows
    f = stopped[0]["fields"]
    assert f["reason"] == "shutdown" and f["stopped"] == "it received SIGTERM" and f["runner_pid"] == runner.proc.pid
    assert "SIGTERM" in stopped[0]["message"]
    assert not [r for r in rows if r["kind"] == "finished"]
    assert rows[-1]["kind"] == "interrupted"  # (not finished: no end line without -f)


def test_requests_are_logged_before_what_they_cause_with_their_result(cli, store):
    from conftest import submit

    job = submit(store, "test-steps", {"steps": 3})
    cli("jobs", "cancel", job, check=True)  # not running: cancelled at once
    refused = cli("jobs", "resume", job)
    assert refused.returncode == 2
    rows = [json.loads(line) for line in cli("jobs", "logs", job, "--json", check=True).stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["submitted", "cancel-requested", "finished", "resume-requested", "end"]
    assert rows[1]["fields"]["result"] == "cancelled" and rows[1]["message"].endswith(": cancelled")
    assert rows[2]["fields"]["status"] == "cancelled"
    assert rows[3]["fields"]["result"].startswith("refused: job") and "jobs retry" in rows[3]["message"]
    assert rows[4]["status"] == "cancelled" and rows[4]["exit_code"] == 1


def test_a_scheduled_command_and_a_child_job_say_who_submitted_them(cli, store, tmp_path):
    (tmp_path / "a").write_text("x")
    job = int(cli("copy", tmp_path / "a", tmp_path / "b", "--detach", env={"SDJOBS_SCHEDULE": "7"},
                  check=True).stdout)  # as the runner's scheduler runs a schedule's command
    rows = [json.loads(line) for line in cli("jobs", "logs", job, "--json", check=True).stdout.splitlines()]
    assert rows[0]["kind"] == "submitted" and rows[0]["fields"]["schedule"] == 7
    assert rows[0]["message"].startswith("submitted by schedule 7 running `sdjobs copy ")
    child = store.submit("test-steps", 1, {}, parent_id=job, context={"parent": job, "argv": ["(child of job 1)"]})
    assert [e.message for e in store.events(child)] == [f"submitted by job {job}"]


def test_runner_stop_is_the_reason_its_job_was_interrupted(cli, store, start_runner):
    from conftest import submit

    job = submit(store, "test-steps", {"steps": 100, "delay": 0.05})
    start_runner("--workers", "1")
    wait_for(lambda: (store.get(job).progress.done or 0) >= 2, what="the job to run")
    cli("runner", "stop", check=True)
    rows = [json.loads(line) for line in cli("jobs", "logs", job, "--json", check=True).stdout.splitlines()]
    assert [r["fields"]["stopped"] for r in rows if r["kind"] == "interrupted"] == [
        "`sdjobs runner stop` asked it to stop"]
