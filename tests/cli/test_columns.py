"""The plain list tables (`output.columns`) and the one-subcommand start-up path."""

from __future__ import annotations

from sdjobs.cli import output
from sdjobs.core.status import Status


def test_columns_align_cut_and_stay_plain_on_a_pipe(capsys, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    output.columns(("ID", "NAME", "NOTE"), [("7", "a", "short"), ("123", "日本語", "x" * 80)], right=("ID",),
                   styles=[(None, "red", None), (None, None, "bold")], max_width={"NOTE": 10})
    lines = capsys.readouterr().out.splitlines()
    assert "\x1b[" not in "".join(lines)  # not a terminal: no colour
    assert lines[0] == " ID  NAME    NOTE"
    assert lines[1] == "  7  a       short"
    assert lines[2] == "123  日本語  " + "x" * 9 + "…"  # wide characters take two cells


def test_cell_width_and_paint():
    assert output.cell_width("abc") == 3
    assert output.cell_width("日本") == 4
    assert output.cell_width("e\u0301") == 1  # a combining accent takes no cell
    assert output.paint("ok", "bold green") == "\x1b[1;32mok\x1b[0m"
    assert output.paint("ok", "bold green", enabled=False) == "ok"


def test_jobs_ls_shows_active_jobs_and_the_newest_finished(cli, store):
    for i in range(25):
        done = store.submit("test-steps", 1, {"steps": 1}, context={"argv": ["sdjobs", "test-steps", f"n{i}"]})
        store.set_status(done, Status.CANCELLED, only_from=["queued"])
    queued = store.submit("test-steps", 1, {"steps": 1}, priority=5, context={"argv": ["sdjobs", "test-steps", "q"]})
    lines = cli("jobs", "ls", check=True).stdout.splitlines()
    assert lines[0].split() == ["ID", "TYPE", "STATUS", "PRI", "PROGRESS", "PHASE", "RATE", "ETA", "AGE", "COMMAND"]
    assert lines[1].split()[:4] == [str(queued), "test-steps", "queued", "5"]
    ids = [int(line.split()[0]) for line in lines[1:]]
    assert ids == [queued] + list(range(done, done - 20, -1))  # the 20 newest finished, newest first
    assert lines[2].endswith("test-steps n24")
    assert len(cli("jobs", "ls", "--all", check=True).stdout.splitlines()) == 27


def test_group_help_lists_every_subcommand_though_one_is_loaded_per_run(cli):
    helptext = cli("jobs", "--help", check=True).stdout
    for sub in ("ls", "show", "pause", "resume", "cancel", "logs", "wait", "retry", "prune"):
        assert f"  {sub} " in helptext
    assert "Usage: sdjobs jobs ls" in cli("jobs", "ls", "--help", check=True).stdout
    bad = cli("jobs", "lss")
    assert bad.returncode == 2 and "No such command 'lss'" in bad.stderr
