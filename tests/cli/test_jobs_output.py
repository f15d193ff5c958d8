"""``sdjobs jobs output``: results read back after --detach, equal to the foreground command's,
filtered, streamed, paged on a terminal, pruned with their job; a plugin's rows; outcomes
(validate and parents completed-with-errors, ``jobs wait`` exit 1). Real CLI processes, a real runner."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time

import pytest
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "jobs"))
from dupes_helpers import brute_force, write  # noqa: E402

from conftest import wait_for  # noqa: E402


@pytest.fixture(autouse=True)
def output_jobs(lib, monkeypatch):
    monkeypatch.setenv("SDJOBS_PLUGINS", "testjobs,outputjobs")
    monkeypatch.delenv("PAGER", raising=False)
    monkeypatch.delenv("SDJOBS_PAGER", raising=False)


def sdjobs_bytes(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sdjobs", *map(str, args)], capture_output=True, timeout=120,
                          env={**os.environ, **(env or {})})


def detach(cli, *args) -> int:
    return int(cli(*args, "--detach", check=True).stdout)


def image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(buf, format=fmt)
    return buf.getvalue()


# -- validate ---------------------------------------------------------------------------
def planted(root) -> dict[tuple[str, str], str]:
    """A tree with known corruption; {(kind, name): severity} of each problem planted."""
    jpeg, png = image_bytes("JPEG"), image_bytes("PNG")
    write(root / "ok.jpg", jpeg)
    write(root / "ok.png", png)
    write(root / "notes.txt", b"fine\n")
    write(root / "cut.jpg", jpeg[: len(jpeg) // 2])              # truncated JPEG
    write(root / "cut.png", png[: len(png) // 2])                 # truncated PNG
    write(root / "zero.jpg", b"")                                  # zero-length with a content extension
    write(root / "text.png", b"this is not a picture at all\n" * 4)  # magic bytes contradict the extension
    return {("truncated", "cut.jpg"): "error", ("truncated", "cut.png"): "error",
            ("empty-content", "zero.jpg"): "error", ("magic-mismatch", "text.png"): "error"}


def test_validate_detached_then_wait_exits_1_and_output_lists_every_planted_problem(cli, tmp_path):
    root = tmp_path / "photos"
    expected = planted(root)
    job = detach(cli, "validate", "--mode", "corruption", root)
    waited = cli("jobs", "wait", job)
    assert waited.returncode == 1, waited.stderr  # as the foreground command exits
    assert "completed-with-errors" in waited.stderr and "4 errors" in waited.stderr
    data = cli.json("jobs", "output", job, "--json")
    assert data["job"] == job and data["status"] == "completed-with-errors"
    found = {(i["kind"], os.path.relpath(i["path"], root)): i["severity"] for i in data["issues"]}
    assert {k: v for k, v in found.items() if v in ("critical", "error")} == expected
    for i in data["issues"]:
        assert set(i) == {"severity", "kind", "path", "message", "action"} and i["message"] and i["action"]
    # the foreground command prints the same document, and exits 1 too
    fg = cli("validate", "--mode", "corruption", root, "--json")
    assert fg.returncode == 1
    assert json.loads(fg.stdout)["issues"] == data["issues"]
    # filters; --jsonl streams the same rows, one a line
    worst = cli.json("jobs", "output", job, "--json", "--severity", "error")
    assert worst["issues"] == [i for i in data["issues"] if i["severity"] in ("critical", "error")]
    lines = cli("jobs", "output", job, "--jsonl", check=True).stdout.splitlines()
    assert [json.loads(x) for x in lines] == data["issues"]
    table = cli("jobs", "output", job, check=True).stdout
    assert table.startswith("SEVERITY") and "cut.jpg" in table and "fix:" in table
    bad = cli("jobs", "output", job, "--min-size", "1k")
    assert bad.returncode == 2 and "no size" in bad.stderr


def test_validate_with_only_warnings_completes(cli, tmp_path):
    write(tmp_path / "t" / "ok.txt", b"fine")
    write(tmp_path / "t" / "empty", b"")  # info: an empty file
    job = detach(cli, "validate", tmp_path / "t")
    assert cli("jobs", "wait", job).returncode == 0
    rec = cli.json("jobs", "show", job, "--json")
    assert rec["status"] == "completed" and rec["result"]["command"] == f"sdjobs jobs output {job}"
    assert rec["result"]["name"] == "issues" and rec["result"]["rows"] == 2  # the empty file, "not indexed"
    assert "2 files checked (basic): 2 info" in cli("jobs", "wait", job).stderr


# -- dupes ------------------------------------------------------------------------------
def dupes_tree(root):
    write(root / "a" / "one.bin", b"A" * 5000)
    write(root / "b" / "one-copy.bin", b"A" * 5000)
    write(root / "c" / "one-again.bin", b"A" * 5000)
    write(root / "a" / "two.txt", b"two\n")
    write(root / "b" / "two.txt", b"two\n")
    write(root / "a" / "unique", b"B" * 5000)
    write(os.path.join(os.fsencode(root), b"odd \xff name"), b"two\n")  # not UTF-8
    write(root / "big" / "x", b"X" * 300_000)
    write(root / "big" / "y", b"X" * 300_000)


def test_dupes_detached_output_equals_the_foreground_command(cli, tmp_path):
    root = tmp_path / "t"
    dupes_tree(root)
    job = detach(cli, "dupes", root)
    assert cli("jobs", "wait", job).returncode == 0
    fg = sdjobs_bytes("dupes", root, "--format", "fdupes")
    out = sdjobs_bytes("jobs", "output", job, "--format", "fdupes")
    assert fg.returncode == 0 and out.returncode == 0
    assert out.stdout == fg.stdout  # byte for byte
    groups = {frozenset(g.split(b"\n")) for g in out.stdout.rstrip(b"\n").split(b"\n\n")}
    assert groups == {frozenset(map(os.fsencode, g)) for g in brute_force([root])}
    if shutil.which("jdupes"):  # an oracle that is not sdjobs
        jd = subprocess.run(["jdupes", "-r", "-q", os.fsencode(root)], capture_output=True, check=True).stdout
        assert groups == {frozenset(g.split(b"\n")) for g in jd.rstrip(b"\n").split(b"\n\n")}
    # JSON: the same groups as the foreground --json, biggest waste first
    data = cli.json("jobs", "output", job, "--json")
    assert data["groups"] == cli.json("dupes", root, "--json")["groups"]
    assert [g["wasted"] for g in data["groups"]] == sorted((g["wasted"] for g in data["groups"]), reverse=True)
    assert set(data["summary"]) >= {"groups", "duplicates", "wasted"}
    big = cli.json("jobs", "output", job, "--json", "--min-size", "100k")["groups"]
    assert [g["size"] for g in big] == [300_000]
    table = cli("jobs", "output", job, check=True).stdout
    assert table == cli("dupes", root, check=True).stdout
    assert "3 groups, 5 extra copies" in table  # (the tree: A×3, two×3, X×2)
    one = cli("jobs", "output", job, "--min-size", "100k", check=True).stdout
    assert one.rstrip().endswith("1 group, 1 extra copy, 300.0 kB wasted")
    assert cli("jobs", "output", job, "--severity", "error").returncode == 2


def test_prune_removes_the_results(cli, store, tmp_path):
    from sdjobs.store import results

    root = tmp_path / "t"
    dupes_tree(root)
    job = detach(cli, "dupes", root)
    cli("jobs", "wait", job, check=True)
    assert results.count(store, job) == 3
    time.sleep(0.05)
    assert cli("jobs", "prune", "--older-than", "0s", check=True).stdout == "pruned 1 job\n"
    assert results.name(store, job) is None and results.count(store, job) == 0
    assert store._sql("SELECT count(*) FROM job_result WHERE job_id=?", (job,)).fetchone()[0] == 0
    assert store._sql("SELECT count(*) FROM job_result_set").fetchone()[0] == 0
    gone = cli("jobs", "output", job)
    assert gone.returncode == 2 and f"no job {job}" in gone.stderr


def test_prune_removes_result_files_beside_the_library(cli, store, lib, tmp_path):
    root = tmp_path / "t"
    dupes_tree(root)
    dry = cli("dupes", root, "--then", "trash", "--json")  # a dry run: its plan is a file
    plan = json.loads(dry.stdout)["summary"]["results_file"]
    assert os.path.exists(plan) and cli.json("jobs", "output", json.loads(dry.stdout)["job"], "--json")["groups"]
    folder = lib.with_name(lib.stem + "-data") / "results"
    (folder / "validate-999.msgpack").write_bytes(b"\x80")  # an old result of a job pruned before the upgrade
    (folder / "notes.txt").write_text("not ours")
    keep = detach(cli, "run", "test-rows", "--set", "rows=1")
    (folder / f"dupes-{keep}.json").write_text("[]")  # a job still in the library
    cli("jobs", "wait", keep, check=True)
    store._sql("UPDATE job SET finished_at=finished_at+3600 WHERE id=?", (keep,))
    time.sleep(0.05)
    cli("jobs", "prune", "--older-than", "0s", check=True)
    assert sorted(os.listdir(folder)) == [f"dupes-{keep}.json", "notes.txt"]


# -- a plugin's rows --------------------------------------------------------------------
def test_a_plugin_job_streams_rows_and_output_renders_them(cli, tmp_path):
    job = detach(cli, "run", "test-rows", "--set", "rows=12", "--set", "bad=3")
    assert cli("jobs", "wait", job).returncode == 1  # one row of severity error
    data = cli.json("jobs", "output", job, "--json")
    assert data["status"] == "completed-with-errors"
    assert [r["n"] for r in data["rows"]] == list(range(12))
    assert data["rows"][1] == {"n": 1, "name": "row 1", "size": 100, "severity": "info", "tags": ["a", "b"],
                               "extra": {"even": False}}
    table = cli("jobs", "output", job, check=True).stdout.splitlines()
    assert table[0].split() == ["N", "NAME", "SIZE", "SEVERITY", "TAGS", "EXTRA"]
    assert len(table) == 13 and table[2].split()[:6] == ["1", "row", "1", "100", "info", "a,"]
    assert [json.loads(x)["n"] for x in cli("jobs", "output", job, "--jsonl", "--min-size", "1000",
                                            check=True).stdout.splitlines()] == [10, 11]
    assert [r["n"] for r in cli.json("jobs", "output", job, "--json", "--severity", "warning")["rows"]] == [3]
    show = cli("jobs", "show", job, check=True).stdout
    assert f"12 rows: sdjobs jobs output {job}" in show
    assert cli("jobs", "output", job, "--format", "fdupes").returncode == 2


def rows_of(cli, job) -> list[int]:
    return [json.loads(x)["n"] for x in cli("jobs", "output", job, "--jsonl", check=True).stdout.splitlines()]


def test_rows_after_a_pause_and_a_sigkill_are_each_stored_once(cli, store, start_runner, tmp_path):
    marker = tmp_path / "runs"
    runner = start_runner()
    job = detach(cli, "run", "test-rows", "--set", "rows=120", "--set", "every=7", "--set", "delay=0.02",
                 "--set", f"marker={marker}")
    wait_for(lambda: (store.get(job).progress.done or 0) >= 30, what="rows emitted")
    cli("jobs", "pause", job, check=True)
    wait_for(lambda: store.get(job).status == "paused", what="the pause")
    from sdjobs.store import results

    assert results.count(store, job) > 0  # written at the pause, some after the last checkpoint
    cli("jobs", "resume", job, check=True)
    wait_for(lambda: (store.get(job).progress.done or 0) >= 70 and store.get(job).status == "running",
             what="rows emitted after the resume")
    runner.kill_group()  # SIGKILL: the rows written after the last checkpoint are the dead run's
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=120).returncode == 0
    assert marker.read_text().count("run") == 3
    assert rows_of(cli, job) == list(range(120))


def test_a_parent_whose_child_ended_with_errors_ends_with_errors(cli):
    job = detach(cli, "run", "test-errors-parent", "--set", "errors=2")
    waited = cli("jobs", "wait", job, timeout=120)
    assert waited.returncode == 1, waited.stderr
    rec = cli.json("jobs", "show", job, "--json")
    assert rec["status"] == "completed-with-errors" and rec["errors"] == 1
    kid = rec["children"][0]
    assert cli.json("jobs", "show", kid, "--json")["status"] == "completed-with-errors"
    assert f"child job {kid} ended completed-with-errors" in cli("jobs", "output", job, check=True).stdout
    assert "(0 warnings, 1 error;" in waited.stderr


# -- jobs without rows, not finished, from before the upgrade --------------------------------
def test_a_copy_job_shows_its_counts_and_errors(cli, tmp_path):
    write(tmp_path / "src" / "a.txt", b"a")
    job = detach(cli, "copy", tmp_path / "src", tmp_path / "dst")
    cli("jobs", "wait", job, check=True)
    text = cli("jobs", "output", job, check=True).stdout
    assert f"copy job {job} completed" in text and "1 file " in text and "1 files" not in text
    data = cli.json("jobs", "output", job, "--json")
    assert data["summary"]["files"] == 1 and data["issues"] == []


def test_output_of_a_job_that_has_not_finished(cli, store):
    job = store.submit("test-rows", 1, {"rows": 3})  # no runner: it stays queued
    proc = cli("jobs", "output", job)
    assert proc.returncode == 2 and "queued" in proc.stderr and "jobs wait" in proc.stderr


def test_results_written_before_the_upgrade_are_still_read(cli, store, lib, tmp_path):
    """Jobs that ran before results were stored in the library named a file in their output."""
    from sdjobs.core import codec

    d = lib.with_name(lib.stem + "-data") / "results"
    d.mkdir(parents=True, exist_ok=True)
    groups = [{"size": 5, "hash": "ab" * 16, "wasted": 5, "paths": ["/x/a", "/x/b \udcff"]}]
    (d / "dupes-1.json").write_text(json.dumps(groups, separators=(",", ":")), encoding="ascii")
    issues = [{"severity": "error", "kind": "truncated", "path": "/x/c.jpg", "message": "cut", "action": "restore"},
              {"severity": "info", "kind": "empty", "path": "/x/e", "message": "empty file", "action": "delete"}]
    (d / "validate-2.msgpack").write_bytes(codec.pack({"issues": issues}))
    for job_type, out in (("dupes", {"groups": 1, "results_file": str(d / "dupes-1.json")}),
                          ("validate", {"counts": {"error": 1}, "results_file": str(d / "validate-2.msgpack")})):
        job = store.submit(job_type, 1, {})
        store._sql("UPDATE job SET status='completed', finished_at=?, output=? WHERE id=?",
                  (time.time(), codec.pack(out), job))
    assert sdjobs_bytes("jobs", "output", 1, "--format", "fdupes").stdout == b"/x/a\n/x/b \xff\n\n"
    assert cli.json("jobs", "output", 2, "--json", "--severity", "error")["issues"] == issues[:1]
    assert cli.json("jobs", "show", 2, "--json")["result"]["rows"] == 2
    (d / "dupes-1.json").unlink()
    gone = cli("jobs", "output", 1)
    assert gone.returncode == 2 and "no longer there" in gone.stderr


# -- the pager ------------------------------------------------------------------------------
def on_a_terminal(args: list, env: dict, timeout: float = 60) -> tuple[int, bytes]:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", *map(str, args)], stdin=slave, stdout=slave,
                            stderr=slave, env={**os.environ, **env})
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    proc.wait(timeout=10)
    os.close(master)
    return proc.returncode, seen


def test_the_table_is_paged_on_a_terminal_only(cli, tmp_path):
    job = detach(cli, "run", "test-rows", "--set", "rows=5")
    cli("jobs", "wait", job, check=True)
    paged = tmp_path / "paged"
    pager = f"cat > {paged}; echo PAGER-RAN"
    code, seen = on_a_terminal(["jobs", "output", job], {"PAGER": pager})
    assert code == 0 and b"PAGER-RAN" in seen
    assert paged.read_text().splitlines()[0].split()[0] == "N" and len(paged.read_text().splitlines()) == 6
    paged.unlink()
    code, seen = on_a_terminal(["jobs", "output", job, "--json"], {"PAGER": pager})  # data: never paged
    assert code == 0 and not paged.exists() and b'"rows"' in seen
    code, seen = on_a_terminal(["jobs", "output", job, "--no-pager"], {"PAGER": pager})
    assert code == 0 and not paged.exists() and b"row 4" in seen
    assert cli("jobs", "output", job, env={"PAGER": pager}, check=True).stdout.count("\n") == 6  # a pipe
    assert not paged.exists()
    code, seen = on_a_terminal(["jobs", "output", job], {"PAGER": "head -c 10; exit 0"})  # quits early
    assert code == 0 and b"Traceback" not in seen
