"""A background runner stays alive while schedules exist, and idles out once they are gone."""

import time

from conftest import wait_for


def test_background_runner_stays_up_while_a_schedule_exists(cli, store, tmp_path):
    (tmp_path / "a").write_text("x")
    sid = cli("schedule", "add", "0 3 * * *", "--", "copy", str(tmp_path / "a"), str(tmp_path / "b"),
              check=True).stdout.strip()
    assert cli("runner", "status").returncode == 0, "schedule add should start a runner"
    time.sleep(5)  # SDJOBS_RUNNER_IDLE_EXIT is 3 s in tests
    assert cli("runner", "status").returncode == 0, "the runner idled out with a schedule left"
    cli("schedule", "rm", sid, check=True)
    wait_for(lambda: cli("runner", "status").returncode == 1, timeout=20, interval=0.5, what="idle exit")
