"""History and retention (issue 15, point 7), through the CLI with real runners: `sdjobs config`,
a retention policy the runner applies by itself (jobs with their result files; failed ones kept
longer), `jobs prune` as the same verb, and `jobs ls` paging through the whole library."""

from __future__ import annotations

import json
import os
import time

from conftest import wait_for

from sdjobs.runner.retention import CHECK_EVERY, RUN_EVERY, Retention
from sdjobs.store import settings_store

DAY = 86400.0


def age_jobs(store, ids, days: float) -> None:
    """Make jobs look finished ``days`` ago (the one thing retention compares)."""
    store._sql(f"UPDATE job SET finished_at=? WHERE id IN ({','.join('?' * len(ids))})",
              (time.time() - days * DAY, *ids))


def test_config_get_set_ls_unset_and_bad_input(cli):
    assert cli("config", "get", "retention", check=True).stdout.strip() == "off"
    assert cli("config", "set", "retention", " 30D ", check=True).returncode == 0
    assert cli("config", "get", "retention", check=True).stdout.strip() == "30d"
    row = cli.json("config", "get", "retention")
    assert row["value"] == "30d" and row["set"] and row["default"] == "off"
    rows = {r["name"]: r for r in cli.json("config", "ls")}
    assert rows["retention"]["value"] == "30d" and not rows["retention-failed"]["set"]
    assert "retention" in cli("config", "ls", check=True).stdout
    for args, words in [(["set", "retention", "soon"], "retention: bad age 'soon'"),
                        (["set", "retention", "--", "-3d"], "bad age"),
                        (["set", "retention", "0.0d"], "bad age"),
                        (["set", "colour", "red"], "unknown setting 'colour' (known: retention, retention-failed)"),
                        (["get", "colour"], "unknown setting"),
                        (["unset", "colour"], "unknown setting")]:
        proc = cli("config", *args)
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert cli("config", "get", "retention", check=True).stdout.strip() == "30d"  # a bad value changed nothing
    assert cli.json("config", "unset", "retention")["value"] == "off"
    assert cli("config", "set", "retention", "never", check=True).returncode == 0
    assert cli("config", "get", "retention", check=True).stdout.strip() == "off"


def _dupes_job(cli, tmp_path, name: str) -> dict:
    d = tmp_path / name
    d.mkdir()
    for f in ("a", "b"):
        (d / f).write_text("same content\n" * 10)
    assert cli("dupes", d, "--then", "trash", "--json").returncode == 0  # a dry run: its plan is a file
    return cli.json("jobs", "ls", "--action", "dupes", "--limit", "1")[0]


def test_the_runner_applies_retention_at_start(cli, store, lib, tmp_path, start_runner):
    old = _dupes_job(cli, tmp_path, "old")
    new = _dupes_job(cli, tmp_path, "new")
    results = lib.parent / "library-data" / "results"
    old_file = results / f"dupes-{old['id']}.json"
    assert old_file.exists() and (results / f"dupes-{new['id']}.json").exists()
    (results / "notes.txt").write_text("not sdjobs' own: never removed")
    failed = cli("run", "test-steps", "--set", "steps=3", "--set", "delay=0", "--set", "fail_at=1")
    assert failed.returncode == 1
    failed_id = cli.json("jobs", "ls", "--status", "failed")[0]["id"]
    age_jobs(store, [old["id"], failed_id], 40)
    cli("runner", "stop")
    cli("config", "set", "retention", "30d", check=True)
    cli("config", "set", "retention-failed", "off", check=True)  # failed jobs are kept to look into

    start_runner()
    wait_for(lambda: not old_file.exists(), what="the old job's results pruned")
    left = {j["id"] for j in cli.json("jobs", "ls", "--all")}
    assert old["id"] not in left and {new["id"], failed_id} <= left
    assert (results / f"dupes-{new['id']}.json").exists() and (results / "notes.txt").exists()

    # the same verb from the command line: failed jobs go with `jobs prune` (no keep-failed there)
    proc = cli("jobs", "prune", "--older-than", "30d", "--json")
    assert cli.json("jobs", "prune", "--older-than", "30d") == {"pruned": 0, "files": 0, "bytes": 0}
    assert '"pruned": 1' in proc.stdout and failed_id not in {j["id"] for j in cli.json("jobs", "ls", "--all")}


def test_jobs_prune_sweeps_result_files_a_crash_left_behind(cli, store, lib, tmp_path):
    job = _dupes_job(cli, tmp_path, "d")
    results = lib.parent / "library-data" / "results"
    orphan = results / "validate-999999.msgpack"   # its job's row went, its file did not (a crash)
    orphan.write_bytes(b"x" * 100)
    temp = results / ".dupes-5.1234.tmp"            # a writer that died
    temp.write_bytes(b"y")
    os.utime(temp, (time.time() - 7200, time.time() - 7200))
    out = cli.json("jobs", "prune", "--older-than", "30d")
    assert out == {"pruned": 0, "files": 2, "bytes": 101}
    assert not orphan.exists() and not temp.exists() and (results / f"dupes-{job['id']}.json").exists()


def test_retention_reads_its_setting_a_minute_at_most_and_prunes_daily(store):
    steps = [store.submit("test-steps", 1, {"steps": 1}) for _ in range(3)]
    store._sql("UPDATE job SET status='completed', finished_at=?", (time.time() - 10 * DAY,))
    r = Retention(store)
    r.tick(mono=1000.0)  # off: nothing
    assert len(store.list_jobs(recent=None)) == 3
    settings_store.put(store, "retention", "30d")
    r.tick(mono=1000.0 + CHECK_EVERY / 2)  # not read again yet
    r.tick(mono=1000.0 + CHECK_EVERY)       # read: applied at once
    assert len(store.list_jobs(recent=None)) == 3  # none is 30 days old
    settings_store.put(store, "retention", "7d")
    r.tick(mono=1000.0 + 2 * CHECK_EVERY)   # a changed setting applies at once
    assert store.list_jobs(recent=None) == []
    more = store.submit("test-steps", 1, {"steps": 1})
    store._sql("UPDATE job SET status='completed', finished_at=? WHERE id=?", (time.time() - 10 * DAY, more))
    r.tick(mono=1000.0 + 4 * CHECK_EVERY)   # same setting, within the day: not run again
    assert [j.id for j in store.list_jobs(recent=None)] == [more]
    r.tick(mono=1000.0 + 2 * CHECK_EVERY + RUN_EVERY)
    assert store.list_jobs(recent=None) == [] and steps


def test_jobs_ls_pages_through_the_whole_library(cli, store):
    ids = [store.submit("test-steps", 1, {"steps": 1}, action="copy" if i % 3 else "delete") for i in range(1234)]
    store._sql("UPDATE job SET status='completed', finished_at=created_at")
    seen, before, pages = [], None, 0
    while True:
        args = ["jobs", "ls", "--limit", "500"] + (["--before", str(before)] if before else [])
        proc = cli(*args, "--json", check=True)
        page = json.loads(proc.stdout)
        pages += 1
        seen += [j["id"] for j in page]
        if len(page) < 500:
            assert "more" not in proc.stderr
            break
        assert f"more: add --before {page[-1]['id']}" in proc.stderr
        before = page[-1]["id"]
    assert pages == 3 and seen == sorted(ids, reverse=True)
    deletes = [j["id"] for j in cli.json("jobs", "ls", "--action", "delete", "--limit", "1000")]
    assert deletes == sorted((i for n, i in enumerate(ids) if n % 3 == 0), reverse=True)
    assert len(cli.json("jobs", "ls", "--all")) == 1234
    assert len(cli.json("jobs", "ls")) == 20
    recs = store.list_jobs(action=["copy"], before_id=ids[10], limit=3)
    assert [r.id for r in recs] == [ids[8], ids[7], ids[5]] and all(r.action == "copy" for r in recs)


def test_a_long_history_is_pruned_a_turn_at_a_time(store, monkeypatch):
    from sdjobs.runner import retention

    monkeypatch.setattr(retention, "PER_TURN", 2000)
    for _ in range(5000):
        store.submit("test-steps", 1, {"steps": 1})
    store._sql("UPDATE job SET status='completed', finished_at=?", (time.time() - 40 * DAY,))
    settings_store.put(store, "retention", "30d")
    r = Retention(store)
    r.tick(mono=0.0)
    assert len(store.list_jobs(recent=None)) == 3000  # one turn's worth
    r.tick(mono=retention.AGAIN_AFTER - 1)
    assert len(store.list_jobs(recent=None)) == 3000  # the loop goes on meanwhile
    r.tick(mono=retention.AGAIN_AFTER)
    r.tick(mono=2 * retention.AGAIN_AFTER)
    assert store.list_jobs(recent=None) == []
