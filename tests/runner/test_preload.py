"""An idle runner imports the modules job types preload, so their forked processes start with them."""

from __future__ import annotations

import json

from conftest import wait_for


def test_idle_runner_preloads_and_the_job_process_inherits(cli, start_runner, tmp_path, monkeypatch):
    mark = tmp_path / "imported-by"
    monkeypatch.setenv("SDJOBS_TEST_PRELOAD_MARK", str(mark))
    runner = start_runner()
    wait_for(mark.exists, what="the idle runner to preload")
    out = json.loads(cli("run", "test-preload", "--json", check=True).stdout)["output"]
    assert out["preloaded"] is True
    assert mark.read_text().split() == [str(runner.proc.pid)]  # imported once, by the runner
    assert out["pid"] != runner.proc.pid  # the job ran in a process of its own
