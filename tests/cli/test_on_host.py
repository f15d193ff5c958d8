"""`--on HOST` on the submitting commands, and where a job's host shows (issue 18)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.fixture
def host_a(monkeypatch, lib):
    monkeypatch.setenv("SDJOBS_HOST", "a")
    monkeypatch.setenv("SDJOBS_CLI_SERVER", "0")


def test_a_host_never_seen_is_accepted_with_a_warning_and_the_job_says_what_it_waits_for(cli, lib, host_a,
                                                                                           tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("x")
    cli("jobs", "ls", check=True)  # the library exists: a job command could start its runner early
    proc = cli("copy", src, tmp_path / "dst.txt", "--on", "nas", "--detach")
    assert proc.returncode == 0, proc.stderr
    job = int(proc.stdout)
    assert "warning: no runner has run on host 'nas' yet" in proc.stderr
    from sdjobs.runner.prestart import runner_alive
    from sdjobs.store.libpath import data_dir_of

    assert not runner_alive(data_dir_of(str(lib))), "a runner was started here for host nas's job"
    [row] = cli.json("jobs", "ls")
    assert (row["id"], row["host"], row["host_name"]) == (job, "nas", "nas")
    assert row["waiting"] == "waiting for a runner on host nas"
    table = cli("jobs", "ls", check=True).stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "TYPE", "STATUS", "HOST"] and table[1].split()[3] == "nas"
    assert "host        nas (runs only there)" in cli("jobs", "show", job, check=True).stdout
    assert [r["id"] for r in cli.json("jobs", "ls", "--host", "nas")] == [job]
    assert cli.json("jobs", "ls", "--host", "a") == []
    assert not (tmp_path / "dst.txt").exists()


def test_a_command_following_a_job_no_runner_can_take_says_so(lib, host_a, tmp_path):
    """Not a silent hang: the follower says the job waits for host nas's runner."""
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "run", "test-steps", "--on", "nas"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        proc.kill()
    _, err = proc.communicate()
    assert "is waiting for a runner on host nas" in err, err


@pytest.mark.parametrize("bad", ["", " ", "a\tb"])
def test_a_blank_host_is_bad_input(cli, host_a, bad):
    proc = cli("run", "test-steps", "--on", bad, "--detach")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "--on needs a host name" in proc.stderr
    assert cli.json("jobs", "ls") == []


def test_jobs_of_this_host_list_as_before_and_runner_hosts_lists_the_hosts(cli, host_a, start_runner):
    start_runner("--workers", "1")
    job = int(cli("run", "test-steps", "--set", "steps=2", "--detach", check=True).stdout)
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    assert "HOST" not in cli("jobs", "ls", check=True).stdout.splitlines()[0], "one host: no HOST column"
    [row] = cli.json("jobs", "ls")
    assert row["host"] == "a"
    [host] = cli.json("runner", "hosts")
    assert (host["id"], host["name"], len(host["runners"])) == ("a", "a", 1)
    [runner] = cli.json("runner", "status")
    assert runner["host_name"] == "a"
    assert cli.json("run", "test-steps", "--set", "steps=1", "--on", "any", "--detach")["id"]
    assert [r["host"] for r in cli.json("jobs", "ls", "--host", "any")] == ["any"]


def test_a_schedule_keeps_the_host_it_was_given(cli, host_a, store):
    from sdjobs.runner.scheduler import submit_scheduled

    out = cli("schedule", "add", "@daily", "--", "run", "test-steps", "--on", "b", check=True)
    assert "warning: no runner has run on host 'b' yet" in out.stderr
    [schedule] = store.schedules()
    assert schedule.job is not None and schedule.job.host == "b"
    assert store.get(submit_scheduled(store, schedule)).host == "b"
    cli("schedule", "add", "@daily", "--", "run", "test-steps", check=True)
    assert store.schedules()[1].job.host == "a", "by default, the host it was added on"
