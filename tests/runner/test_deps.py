"""--after: a job waits for its dependencies, and fails as dependency-failed (never run)
when one of them fails or is cancelled; also across a SIGKILL of the runner."""

from __future__ import annotations

from conftest import wait_for


def run_detached(cli, *args: str) -> int:
    return int(cli("run", "test-steps", *args, "--detach", check=True).stdout)


def submit(store, after=(), **config) -> int:
    return store.submit("test-steps", 1, config, after=after, context={"argv": ["sdjobs", "run", "test-steps"]})


def test_a_job_after_another_starts_only_when_it_finished(store, cli):
    first = submit(store, steps=60, delay=0.04)
    other = submit(store, steps=5, delay=0.02)
    # The CLI path: --after is repeatable; the submission starts a background runner.
    then = run_detached(cli, "--set", "steps=2", "--set", "delay=0", "--after", str(first), "--after", str(other))
    assert wait_for(lambda: (s := store.get(first).status) != "queued" and s, what="the first job started") == "running"
    assert store.get(then).status == "queued"
    assert store.get(then).depends_on == [first, other]
    assert cli("jobs", "wait", then, timeout=60).returncode == 0
    a, b, c = (store.get(j) for j in (first, other, then))
    assert c.started_at >= max(a.finished_at, b.finished_at)
    assert "after" in cli("jobs", "show", then, check=True).stdout


def test_a_failed_dependency_fails_its_dependents_without_running_them(store, cli):
    first = submit(store, steps=80, delay=0.04, fail_at=40)
    second = run_detached(cli, "--after", str(first))  # starts a background runner
    third = run_detached(cli, "--after", str(second))  # transitively
    assert store.get(first).status in ("queued", "running"), "the test needs them submitted before the failure"
    unrelated = run_detached(cli, "--set", "steps=2", "--set", "delay=0")
    assert cli("jobs", "wait", second, third, timeout=60).returncode == 1
    for job, dep in ((second, first), (third, second)):
        rec = store.get(job)
        assert rec.status == "failed" and rec.error == f"dependency-failed: job {dep} failed"
        assert rec.started_at is None and rec.attempts == 0
    assert cli("jobs", "wait", unrelated, timeout=60).returncode == 0
    logs = cli("jobs", "logs", second, check=True).stdout
    assert f"dependency-failed: job {first} failed; not run" in logs

    late = cli("run", "test-steps", "--after", str(first))  # after a job that has already failed
    assert late.returncode == 1 and "dependency-failed" in late.stderr
    rec = store.list_jobs()[0]
    assert rec.error == f"dependency-failed: job {first} failed" and rec.started_at is None


def test_cancelling_a_queued_dependency_fails_dependents_at_once_without_a_runner(store, cli):
    first = store.submit("test-steps", 1, {"steps": 3}, context={"argv": ["x"]})
    second = store.submit("test-steps", 1, {"steps": 3}, after=[first], context={"argv": ["x"]})
    third = store.submit("test-steps", 1, {"steps": 3}, after=[second], context={"argv": ["x"]})
    cli("jobs", "cancel", first, check=True)
    assert [store.get(j).status for j in (first, second, third)] == ["cancelled", "failed", "failed"]
    assert store.get(second).error == f"dependency-failed: job {first} cancelled"
    assert cli("jobs", "wait", third, timeout=5).returncode == 1


def test_after_an_unknown_job_is_bad_input_and_enqueues_nothing(store, cli):
    proc = cli("run", "test-steps", "--after", "999", "--detach")
    assert proc.returncode == 2 and "no job 999" in proc.stderr
    assert cli.json("jobs", "ls") == []


def test_dependencies_hold_across_a_sigkill_of_the_runner(store, cli, start_runner, tmp_path):
    marker = tmp_path / "first"
    first = submit(store, steps=60, delay=0.04, marker=str(marker))
    then = submit(store, after=[first], steps=2, delay=0.0)
    runner = start_runner("--workers", "2")
    wait_for(lambda: marker.exists() and len(marker.read_text().split()) >= 10, what="progress")
    runner.kill_group()
    assert store.get(then).status == "queued"
    start_runner("--workers", "2")
    assert cli("jobs", "wait", first, then, timeout=60).returncode == 0
    assert store.get(then).started_at >= store.get(first).finished_at
    assert store.get(first).claim == 2 and store.get(then).claim == 1  # runs
    assert store.get(first).attempts == 1 and store.get(then).attempts == 0  # crashes
