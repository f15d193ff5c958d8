"""The runner with real processes: control from other processes, crashes, shutdown, priorities, fan-out."""

import time

from conftest import steps_done, submit, wait_for



def test_pause_and_resume_from_another_process(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 200, "delay": 0.03, "marker": str(marker)})
    start_runner()
    wait_for(lambda: (store.get(job).progress.done or 0) >= 5, what="progress")
    assert cli("jobs", "pause", job, check=True).stdout.strip() == f"{job}: pausing"
    asked = time.monotonic()  # the request is in the store; the job must see it within a second
    rec = wait_for(lambda: (r := store.get(job)).status == "paused" and r, what="paused")
    assert time.monotonic() - asked < 1.5
    assert rec.state_version == 1
    done_at_pause = len(steps_done(marker))
    time.sleep(0.5)
    assert len(steps_done(marker)) == done_at_pause, "a paused job made progress"
    cli("jobs", "resume", job, check=True)
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    assert steps_done(marker) == list(range(200)), "steps were skipped or run twice"


def test_cancel_runs_cleanup_and_keeps_the_record(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 200, "delay": 0.02, "marker": str(marker)})
    start_runner()
    wait_for(lambda: store.get(job).status == "running", what="running")
    cli("jobs", "cancel", job, check=True)
    rec = wait_for(lambda: (r := store.get(job)).status == "cancelled" and r, what="cancelled")
    assert "cancelled" in open(marker).read()
    assert rec.finished_at is not None
    assert cli("jobs", "wait", job).returncode == 1


def test_cancel_of_a_paused_job_runs_its_cleanup_without_a_runner(store, cli, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 5, "marker": str(marker)})
    store._sql("UPDATE job SET status='paused', state=?, state_version=1 WHERE id=?", (b"\x81\xa4step\x02", job))
    cli("jobs", "cancel", job, check=True)
    assert store.get(job).status == "cancelled"
    assert open(marker).read() == "cancelled\n"


def test_priority_decides_what_runs_first(store, start_runner):
    low = submit(store, "test-steps", {"steps": 2, "delay": 0.01}, priority=0)
    high = submit(store, "test-steps", {"steps": 2, "delay": 0.01}, priority=10)
    mid = submit(store, "test-steps", {"steps": 2, "delay": 0.01}, priority=5)
    runner = start_runner("--workers", "1", "--exit-when-idle")
    assert runner.proc.wait(60) == 0
    started = sorted((store.get(j).started_at, j) for j in (low, high, mid))
    assert [j for _, j in started] == [high, mid, low]


def test_sigkill_of_the_whole_runner_resumes_from_the_checkpoint(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 40, "delay": 0.03, "marker": str(marker)})
    runner = start_runner()
    wait_for(lambda: len(steps_done(marker)) >= 10, what="progress")
    runner.kill_group()
    assert store.get(job).status == "running"  # nobody has noticed yet
    assert "interrupted" in cli("jobs", "ls").stdout  # the next look does
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    done = steps_done(marker)
    assert sorted(set(done)) == list(range(40))
    assert len(done) - 40 <= 1, "more than the step in flight ran twice"
    rec = store.get(job)
    assert rec.attempts == 1 and rec.claim == 2 and rec.status == "completed"  # one crash, two runs


def test_sigterm_pauses_running_jobs_with_a_checkpoint_and_the_next_runner_resumes(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 60, "delay": 0.03, "marker": str(marker)})
    runner = start_runner()
    wait_for(lambda: len(steps_done(marker)) >= 5, what="progress")
    assert runner.terminate() == 0
    rec = store.get(job)
    assert rec.status == "interrupted" and rec.state_version == 1
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    assert steps_done(marker) == list(range(60))


def test_a_failed_job_retries_from_its_checkpoint(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 10, "delay": 0.0, "fail_at": 6, "marker": str(marker)})
    start_runner()
    assert cli("jobs", "wait", job, timeout=60).returncode == 1
    rec = store.get(job)
    assert rec.status == "failed" and "failed at step 6" in rec.error
    store._sql("UPDATE job SET config=? WHERE id=?",
              (__import__("sdjobs.core.codec", fromlist=["pack"]).pack({"steps": 10, "delay": 0.0,
                                                                          "marker": str(marker)}), job))
    assert "from its last checkpoint" in cli("jobs", "retry", job, check=True).stdout
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    assert steps_done(marker) == list(range(10))


def test_incompatible_checkpoint_fails_with_a_clear_message(store, cli, start_runner):
    job = submit(store, "test-steps", {"steps": 3})
    store._sql("UPDATE job SET state=?, state_version=99 WHERE id=?", (b"\x80", job))
    start_runner("--exit-when-idle")
    cli("jobs", "wait", job, timeout=60)
    rec = store.get(job)
    assert rec.status == "failed" and "v99" in rec.error and "retry" in rec.error


def test_fan_out_uses_every_worker(store, cli, start_runner):
    job = submit(store, "test-fan", {"n": 20000})
    start_runner("--workers", "2", "--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    out = store.get(job).output
    assert out["sum"] == sum(i * i for i in range(20000))
    assert out["workers"] == 2


def test_errors_are_kept_and_shown(store, cli, start_runner):
    job = submit(store, "test-steps", {"steps": 6, "delay": 0, "warn_every": 2})
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=60).returncode == 1
    shown = cli.json("jobs", "show", str(job))
    assert shown["status"] == "completed-with-errors" and shown["errors"] == 3
    assert [i["path"] for i in shown["issues"]] == ["/fake/0", "/fake/2", "/fake/4"]
    logs = cli("jobs", "logs", job).stdout
    assert "/fake/2: planted error" in logs


def test_a_job_whose_process_keeps_dying_is_failed_after_bounded_attempts(store, cli, start_runner):
    job = submit(store, "test-steps", {"steps": 5, "delay": 0, "die_at": 2})
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=60).returncode == 1
    rec = store.get(job)
    assert rec.status == "failed" and rec.attempts == 3
    assert "died (signal 9)" in rec.error
    assert len([e for e in store.events(job, kinds=["interrupted"]) if "died" in e.message]) == 3
    from sdjobs.store import events

    assert [e.fields["reason"] for e in events.read(store, job, kinds=["interrupted"])] == ["process-died"] * 3
    assert [e.message for e in store.events(job, kinds=["finished"])] == [f"failed (crash): {rec.error}"]


def test_fanned_out_work_goes_to_the_higher_priority_job_first(store, cli, start_runner):
    low = submit(store, "test-fan", {"n": 24, "delay": 0.1, "chunk": 2}, priority=0)
    high = submit(store, "test-fan", {"n": 24, "delay": 0.1, "chunk": 2}, priority=10)
    start_runner("--workers", "2", "--exit-when-idle")
    assert cli("jobs", "wait", low, high, timeout=90).returncode == 0
    lo, hi = store.get(low), store.get(high)
    assert abs(lo.started_at - hi.started_at) < 1.0, "both should run at once"
    # 12 chunks of 0.2 s each over 2 shared workers: the high one should be done near
    # 1.2 s and the low one near 2.4 s; an even share would end both near 2.4 s
    assert hi.finished_at + 0.6 < lo.finished_at


def test_jobs_resume_finds_a_job_whose_runner_died_and_resumes_it(store, cli, start_runner, tmp_path):
    marker = tmp_path / "marker"
    job = submit(store, "test-steps", {"steps": 30, "delay": 0.03, "marker": str(marker)})
    runner = start_runner()
    wait_for(lambda: len(steps_done(marker)) >= 5, what="progress")
    runner.kill_group()
    assert cli("jobs", "resume", job, check=True).stdout.strip() == f"{job}: queued to resume"
    assert cli("jobs", "wait", job, timeout=60).returncode == 0  # a background runner was started for it
    assert sorted(set(steps_done(marker))) == list(range(30))
