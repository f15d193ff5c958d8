"""The action context (issue 15, point 6), through the CLI with real runners: the command word
in its own column (``jobs ls --action``), a shell-quoted command that pastes back, secrets
masked wherever they are shown but never in what the job runs with, children that carry their
root's action and initiator, scheduled jobs shown by their schedule, and old libraries filled in."""

from __future__ import annotations

import os
import shlex
import sqlite3
import time

import pytest
from conftest import wait_for

from sdjobs.core import codec
from sdjobs.core.action import mask_argv, secret_name
from sdjobs.store import schedules


@pytest.fixture
def plugins(lib, monkeypatch):
    monkeypatch.setenv("SDJOBS_PLUGINS", "testjobs,composejobs,historyjobs")
    return lib


def test_secret_names_by_their_parts():
    for name in ("password", "PASSWORD", "api_key", "apiKey", "APIKEY", "GITHUB_TOKEN", "dbPassword",
                 "client-secret", "sshPassphrase", "aws.secret.key", "accesstoken"):
        assert secret_name(name), name
    for name in ("keyboard", "keys_dir", "path", "tokenizer", "secretary", "passage", "steps"):
        assert not secret_name(name), name
    assert mask_argv(["run", "x", "--set", "password=a b", "--set=api_key=k", "-stoken=t", "-s", "steps=2",
                      "--set", "keyboard=us"]) == \
        ["run", "x", "--set", "password=***", "--set=api_key=***", "-stoken=***", "-s", "steps=2",
         "--set", "keyboard=us"]
    assert mask_argv(["run", "x", "-dspassword=a", "--set", 'db={"host": "h", "Password": "p"}', "paths=a=b"]) == \
        ["run", "x", "-dspassword=***", "--set", 'db={"host": "h", "Password": "***"}', "paths=a=b"]


def test_secrets_masked_where_shown_whole_where_run(plugins, cli, tmp_path, store):
    out = tmp_path / "it ran.txt"
    args = ["run", "test-secret", "--set", f"out={out}", "--set", "api_token=t0k3n-SECRET",
            "--set", "dbPassword=hunter2 SECRET", "--set", "keyboard=us"]
    assert cli(*args).returncode == 0
    assert out.read_text() == "t0k3n-SECRET|hunter2 SECRET|us"  # the job ran with the real values
    [job] = cli.json("jobs", "ls", "--action", "test-secret")
    shown = cli.json("jobs", "show", job["id"])
    text = cli("jobs", "show", job["id"], check=True).stdout + cli("jobs", "ls", check=True).stdout
    for where in (repr(shown), text, job["command"]):
        assert "SECRET" not in where, where
    ctx = shown["context"]
    assert ctx["inputs"]["api_token"] == "***" and ctx["inputs"]["dbPassword"] == "***"
    assert ctx["inputs"]["keyboard"] == "us" and shown["config"]["keyboard"] == "us"
    assert shown["config"]["api_token"] == "***"
    assert "api_token=***" in ctx["command"] and "keyboard=us" in ctx["command"]
    assert shown["action"] == "test-secret" and ctx["initiator"].endswith("@" + ctx["host"])
    # nothing shown holds the secret; only the config the job runs from does
    raw_context = store._sql("SELECT context FROM job WHERE id=?", (job["id"],)).fetchone()[0]
    assert b"SECRET" not in raw_context
    raw_config = codec.unpack(store._sql("SELECT config FROM job WHERE id=?", (job["id"],)).fetchone()[0])
    assert raw_config["api_token"] == "t0k3n-SECRET"


def test_command_is_shell_quoted_and_pastes_back(cli, tmp_path, store):
    src = tmp_path / "it's a dir"
    src.mkdir()
    (src / "f").write_text("x")
    dst = tmp_path / "dest $HOME"
    assert cli("copy", src, dst).returncode == 0
    [job] = cli.json("jobs", "ls", "--action", "copy")
    shown = cli("jobs", "show", job["id"], check=True).stdout
    line = next(ln for ln in shown.splitlines() if ln.startswith("command"))
    pasted = shlex.split(line.split(None, 1)[1])
    assert pasted == ["sdjobs", "copy", str(src), str(dst)]
    assert shlex.split(job["command"]) == ["copy", str(src), str(dst)]
    assert job["action"] == "copy"
    assert cli.json("jobs", "ls", "--action", "delete") == []


def test_children_inherit_the_root_action_and_initiator(plugins, cli, store):
    proc = cli("run", "test-parent", "--set", "children=2", "--set", "child_steps=2", "--set", "child_delay=0")
    assert proc.returncode == 0, proc.stderr
    jobs = cli.json("jobs", "ls", "--all", "--action", "test-parent")
    assert sorted(j["type"] for j in jobs) == ["test-parent", "test-steps", "test-steps"]
    root = next(j for j in jobs if j["parent_id"] is None)
    for child in (j for j in jobs if j["parent_id"] is not None):
        assert child["action"] == "test-parent" and child["initiator"] == root["initiator"]
        ctx = cli.json("jobs", "show", child["id"])["context"]
        assert ctx["root"] == root["id"] and ctx["cwd"] == os.getcwd()
    assert cli.json("jobs", "ls", "--action", "test-steps") == []


def test_a_scheduled_job_is_shown_by_its_schedule(plugins, cli, store, start_runner):
    sid = int(cli("schedule", "add", "0 3 * * *", "--", "run", "test-secret", "--set", "out=/dev/null",
                  "--set", "api_token=SECRET", check=True).stdout)
    listed = cli("schedule", "ls", check=True).stdout + repr(cli.json("schedule", "ls"))
    assert "SECRET" not in listed and "api_token=***" in listed
    assert schedules.get(store, sid).argv[-1] == "api_token=SECRET"  # what it runs keeps the value
    store._sql("UPDATE schedule SET checked_at=? WHERE id=?", (time.time() - 86400 * 2, sid))
    start_runner()
    s = wait_for(lambda: (r := schedules.get(store, sid)).last_job_id and r, what="the scheduled run")
    assert cli("jobs", "wait", s.last_job_id, timeout=30).returncode == 0
    [job] = cli.json("jobs", "ls", "--action", "test-secret")
    assert job["command"] == f"schedule {sid} (0 3 * * *)"
    assert job["initiator"] == f"schedule {sid}" and job["schedule"] == {"id": sid, "cron": "0 3 * * *"}
    table = cli("jobs", "ls", check=True).stdout
    assert f"schedule {sid} (0 3 * * *)" in table and "--detach" not in table
    assert f"schedule {sid} (0 3 * * *)" in cli("jobs", "show", job["id"], check=True).stdout


def test_old_library_rows_are_filled_in(lib, cli):
    """A library from before the action column: its rows get the command word of their
    command line, children their root's, and `run TYPE` its type."""
    from sdjobs.store import schema

    lib.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(lib)
    conn.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for i, step in enumerate(schema.core.MIGRATIONS[:2]):
        conn.executescript(step)
        conn.execute("INSERT OR REPLACE INTO schema_version VALUES ('core', ?)", (i + 1,))
    rows = [
        (1, "index", None, ["sdjobs", "--library", "/x/l.db", "watch", "/photos"]),
        (2, "thumbs", 1, ["(child of job 1)"]),
        (3, "test-steps", None, ["/usr/bin/sdjobs", "run", "test-steps", "--set", "steps=2"]),
        (4, "copy", None, ["sdjobs", "-L/x/l.db", "copy", "a", "b"]),
        (5, "delete", None, None),
        (6, "thumbs", 2, ["(child of job 2)"]),
    ]
    for job_id, job_type, parent, argv in rows:
        conn.execute("INSERT INTO job (id, type, status, parent_id, context, created_at) VALUES (?,?,?,?,?,?)",
                     (job_id, job_type, "completed", parent, codec.pack({"argv": argv} if argv else {}), time.time()))
    conn.commit()
    conn.close()
    jobs = {j["id"]: j["action"] for j in cli.json("jobs", "ls", "--all")}
    assert jobs == {1: "watch", 2: "watch", 3: "test-steps", 4: "copy", 5: "delete", 6: "watch"}
    assert [j["id"] for j in cli.json("jobs", "ls", "--action", "watch", "--all")] == [6, 2, 1]
    plan = sqlite3.connect(lib).execute(
        "EXPLAIN QUERY PLAN SELECT id FROM job WHERE action IN ('copy') ORDER BY id DESC").fetchall()
    assert "job_action" in repr(plan)
