"""The runner a command starts on demand: a light entry point (no command-line layer), in
the background, exiting after its idle time; a bad idle time is a clear error."""

from conftest import wait_for


def test_a_job_command_starts_a_light_background_runner(cli, store, tmp_path):
    (tmp_path / "a").write_text("x")
    assert cli("copy", str(tmp_path / "a"), str(tmp_path / "b")).returncode == 0
    assert (tmp_path / "b").read_text() == "x"
    [runner] = store.runners()
    assert runner.mode == "background"
    with open(f"/proc/{runner.pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert b"sdjobs.runner.background" in argv and b"typer" not in b" ".join(argv)
    wait_for(lambda: not store.runners(), timeout=30, interval=0.5, what="the idle exit (3 s in tests)")


def test_a_bad_idle_time_is_a_clear_error_and_keeps_the_job(cli, store, tmp_path, monkeypatch):
    (tmp_path / "a").write_text("x")
    monkeypatch.setenv("SDJOBS_RUNNER_IDLE_EXIT", "soon")
    r = cli("copy", str(tmp_path / "a"), str(tmp_path / "b"))
    assert r.returncode == 1
    assert "SDJOBS_RUNNER_IDLE_EXIT must be a number of seconds, not 'soon'" in r.stderr
    assert "Traceback" not in r.stderr
    assert [j.status for j in store.list_jobs()] == ["queued"]
    assert not store.runners() and not (tmp_path / "b").exists()
