"""The spare job process (runner/spare.py): an idle runner forks one, with its workers, before
there is a job; the next job claimed runs in it, and an idle runner makes another. It dies with
its runner, its workers with it, and a runner that stops leaves none behind."""

from __future__ import annotations

import os
import signal

from conftest import alive, children, submit, wait_for


def _spares(runner_pid: int, workers: int) -> list[int]:
    """The runner's children that have ``workers`` children of their own: job processes with their
    pool (the command server, a subprocess, has none)."""
    return [c for c in children(runner_pid) if len(children(c)) == workers]


def test_the_next_job_runs_in_the_spare_and_an_idle_runner_makes_another(store, start_runner):
    runner = start_runner("--workers", "2")
    [spare] = wait_for(lambda: _spares(runner.proc.pid, 2), what="a spare with its two workers")
    workers = set(children(spare))
    job = submit(store, "test-fan", {"n": 8, "chunk": 2})
    wait_for(lambda: store.get(job).status == "completed", what="the job to complete")
    out = store.get(job).output
    assert out["sum"] == sum(i * i for i in range(8)) and 1 <= out["workers"] <= 2
    assert [e.fields.get("pid") for e in store.events(job, kinds=["claimed"])] == [spare]
    wait_for(lambda: not alive(spare), what="the spare that ran the job to end")
    assert not any(alive(w) for w in workers)
    [again] = wait_for(lambda: _spares(runner.proc.pid, 2), what="another spare")
    assert again != spare


def test_a_spare_dies_with_its_runner(store, start_runner):
    runner = start_runner("--workers", "2")
    [spare] = wait_for(lambda: _spares(runner.proc.pid, 2), what="a spare with its two workers")
    family = [spare, *children(spare)]
    os.kill(runner.proc.pid, signal.SIGKILL)  # the runner alone, not its process group
    runner.proc.wait(10)
    wait_for(lambda: not any(alive(p) for p in family), what="the spare and its workers to die with the runner")


def test_a_runner_that_stops_leaves_no_spare(store, start_runner):
    runner = start_runner("--workers", "2")
    [spare] = wait_for(lambda: _spares(runner.proc.pid, 2), what="a spare with its two workers")
    family = [spare, *children(spare)]
    assert runner.terminate() == 0
    assert not any(alive(p) for p in family)
    assert store.runners() == []
