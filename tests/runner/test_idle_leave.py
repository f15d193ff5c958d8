"""An idle runner about to exit looks at the queue once more after it has unregistered: a job
queued by a command that saw it still registered (and so started no runner) is run, not left
queued with no runner while its command follows it forever."""

import os
import subprocess
import time

from conftest import submit, wait_for

from sdjobs.runner import prestart


def test_a_job_queued_while_an_idle_runner_leaves_is_run(lib, store):
    env = {**os.environ, "SDJOBS_TEST_LEAVE_DELAY": "4", "SDJOBS_CLI_SERVER": "0"}
    runner = subprocess.Popen(prestart.background_argv(str(lib), 1.0), start_new_session=True, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(r.pid == runner.pid for r in store.runners()), what="the runner to register")
        first = [r.id for r in store.runners() if r.pid == runner.pid]
        time.sleep(2.0)  # idle for 1 s: it has looked at the queue, found nothing, and is leaving (4 s)
        assert runner.poll() is None
        assert [r.id for r in store.runners() if r.pid == runner.pid] == first  # still registered
        job = submit(store, "test-steps", {"steps": 1, "delay": 0})  # as a command that saw it registered
        wait_for(lambda: store.get(job).status == "completed", timeout=30,
                 what="the job, taken by the runner that was leaving")
        assert store.get(job).runner_id not in first  # it registered again to take it
    finally:
        runner.kill()
        runner.wait(10)
