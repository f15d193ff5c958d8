"""The index, locations and watch commands: bad input, listings, ephemeral walks, a live watcher."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "jobs"))
from index_helpers import entries, expected, location, make_tree, reads_everything  # noqa: E402


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    return root


@pytest.mark.parametrize("args,message", [
    (["{tmp}/missing"], "no such file or directory"),
    (["{tree}/docs/a.txt"], "not a directory"),
    (["{tree}", "--mode", "fast"], "--mode must be"),
    (["{tree}", "--depth", "-5"], "-5"),
])
def test_bad_input_exits_2_and_enqueues_nothing(cli, tree, tmp_path, args, message):
    args = [a.format(tmp=tmp_path, tree=tree) for a in args]
    proc = cli("index", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and proc.stderr.count("\n") == 1
    assert cli.json("jobs", "ls") == []


@pytest.mark.skipif(reads_everything(), reason="this process reads everything (root)")
def test_unreadable_root_is_bad_input(cli, tmp_path):
    d = tmp_path / "closed"
    d.mkdir(mode=0)
    try:
        proc = cli("index", str(d))
        assert proc.returncode == 2 and "permission denied" in proc.stderr
    finally:
        d.chmod(0o755)


def test_subtree_cannot_change_the_rules_of_its_location(cli, tree):
    cli("index", str(tree), "--mode", "shallow", check=True)
    proc = cli("index", str(tree / "docs"), "--skip-hidden")
    assert proc.returncode == 2 and "inside the location" in proc.stderr
    proc = cli("index", str(tree / "docs"), "--depth", "1")
    assert proc.returncode == 2


def test_locations_ls_and_rm(cli, lib, tree, tmp_path):
    assert cli.json("locations") == []
    cli("index", str(tree), "--mode", "shallow", check=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("x")
    cli("index", str(other), check=True)
    locs = {loc["path"]: loc for loc in cli.json("locations", "ls")}
    assert set(locs) == {str(tree), str(other)}
    t = locs[str(tree)]
    assert t["entries"] == len(expected(tree)) and t["mode"] == "shallow" and t["indexed_at"]
    assert t["last_changes"] == {"new": t["entries"], "modified": 0, "moved": 0, "deleted": 0}
    assert t["rules"]["gitignore"] is True and t["indexing"] is None
    human = cli("locations", check=True).stdout
    assert str(tree) in human and "shallow" in human
    proc = cli("locations", "rm", str(tree / "docs"))
    assert proc.returncode == 2 and "inside the location" in proc.stderr
    assert cli.json("locations", "rm", str(tree)) == {"path": str(tree), "host": t["host"], "entries": t["entries"]}
    assert [loc["path"] for loc in cli.json("locations")] == [str(other)]
    assert entries(lib, tree) == {}
    assert cli("locations", "rm", str(tree)).returncode == 2


def test_ephemeral_writes_nothing_and_streams_entries(cli, lib, tree):
    proc = cli("index", str(tree), "--ephemeral", "--json", check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {os.path.relpath(r["path"], tree) for r in rows} == expected(tree)
    big = next(r for r in rows if r["name"] == "big.bin")
    assert big["size"] == 153_600 and "cas_id" not in big  # shallow by default
    proc = cli("index", str(tree), "--ephemeral", "--mode", "content", "--json", check=True)
    big = next(json.loads(x) for x in proc.stdout.splitlines() if '"big.bin"' in x)
    assert len(big["cas_id"]) == 16
    summary = cli("index", str(tree), "--ephemeral", check=True).stdout
    assert "file" in summary and "symlink" in summary and "total" in summary
    assert cli.json("locations") == [] and cli.json("jobs", "ls") == []


def test_index_help_has_examples(cli):
    out = cli("index", "--help", check=True).stdout
    assert "--ephemeral" in out and "--skip-deps" in out and "sdjobs index ~/Photos" in out


class Watch:
    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "watch", *args], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True, errors="replace", start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def said(self, text):
        return any(text in line for line in self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(15)


def test_watch_indexes_first_then_picks_up_create_modify_delete(cli, lib, tree):
    watch = Watch(str(tree), "--debounce", "200")
    try:
        wait_for(lambda: watch.said("watching"), timeout=30, what="the watcher to start")
        assert watch.said("not indexed yet")
        job = next(line for line in watch.lines if "indexing it first" in line).split("job ")[1].rstrip(")\n")
        cli("jobs", "wait", job, check=True, timeout=60)
        assert set(entries(lib, tree)) == expected(tree)

        started = time.monotonic()
        (tree / "docs" / "created.txt").write_text("created")
        wait_for(lambda: "docs/created.txt" in entries(lib, tree), timeout=15, what="the created file")
        (tree / "docs" / "created.txt").write_text("modified, longer")
        wait_for(lambda: entries(lib, tree)["docs/created.txt"][1] == 16, timeout=15, what="the modification")
        os.unlink(tree / "docs" / "a.txt")
        wait_for(lambda: "docs/a.txt" not in entries(lib, tree), timeout=15, what="the deletion")
        outside = tree.parent / "outside"
        (outside / "inner").mkdir(parents=True)
        (outside / "inner" / "f").write_text("f")
        os.rename(outside, tree / "moved-in")  # a whole tree arrives with one event
        wait_for(lambda: "moved-in/inner/f" in entries(lib, tree), timeout=15, what="the moved-in tree")
        (tree / ".git" / "ignored").write_text("x")  # skipped by the rules: no job
        assert time.monotonic() - started < 45
        time.sleep(1.0)
        assert set(entries(lib, tree)) == expected(tree)
        loc = location(lib, tree)
        assert loc["entries"] == len(expected(tree))
        assert watch.said("refreshing")
    finally:
        rc = watch.stop()
    assert rc == 0 and watch.said("stopped watching")


def test_watch_bad_input(cli, tmp_path):
    proc = cli("watch", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
