"""The dupes, validate and delete commands end to end: real CLI processes, a real runner."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "jobs"))
from dupes_helpers import brute_force, write  # noqa: E402


def small_tree(root):
    write(root / "a" / "one.bin", b"A" * 5000)
    write(root / "b" / "one-copy.bin", b"A" * 5000)
    write(root / "c" / "one-again.bin", b"A" * 5000, mtime_ns=1_500_000_000_000_000_000)
    write(root / "a" / "two.txt", b"two\n")
    write(root / "b" / "two.txt", b"two\n")
    write(root / "a" / "unique", b"B" * 5000)


def groups_of(data) -> set[frozenset[str]]:
    return {frozenset(g["paths"]) for g in data["groups"]}


def with_tty(args: list[str], answer: str, timeout: float = 60) -> tuple[int, str]:
    """Run the CLI with a terminal on stdin and stderr; answer its question."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", *args], stdin=slave, stderr=slave,
                            stdout=subprocess.PIPE)
    os.close(slave)
    seen, answered = b"", False
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
        if not answered and b"[y/N]" in seen:
            os.write(master, answer.encode() + b"\n")
            answered = True
    proc.wait(timeout=max(1, deadline - time.monotonic()))
    os.close(master)
    return proc.returncode, seen.decode(errors="replace")


def test_dupes_json_and_fdupes(cli, tmp_path):
    small_tree(tmp_path / "t")
    data = cli.json("dupes", tmp_path / "t")
    assert groups_of(data) == brute_force([tmp_path / "t"])
    assert data["summary"]["groups"] == 2 and data["summary"]["wasted"] == 2 * 5000 + 4
    proc = cli("dupes", tmp_path / "t", "--format", "fdupes", check=True)
    blocks = [set(b.split("\n")) for b in proc.stdout.strip("\n").split("\n\n")]
    assert {frozenset(b) for b in blocks} == groups_of(data)
    proc = cli("dupes", tmp_path / "t", check=True)
    assert "wasted" in proc.stdout and str(tmp_path / "t" / "a" / "one.bin") in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["NOPE"], "no such file"),
    (["T", "--mode", "fast"], "--mode"),
    (["T", "--min-size", "lots"], "bad size"),
    (["T", "--then", "shred"], "--then"),
    (["T", "--mode", "size", "--then", "trash"], "identical content"),
    (["T", "--keep", "best"], "--keep"),
])
def test_dupes_bad_input(cli, tmp_path, args, message):
    small_tree(tmp_path / "T")
    args = [str(tmp_path / a) if a in ("T", "NOPE") else a for a in args]
    proc = cli("dupes", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and proc.stderr.count("\n") == 1


def test_then_dry_run_changes_nothing(cli, tmp_path):
    small_tree(tmp_path / "t")
    proc = cli("dupes", tmp_path / "t", "--then", "trash", input="")
    assert proc.returncode == 0, proc.stderr
    assert "dry run" in proc.stderr and "--yes" in proc.stderr
    assert "(trash)" in proc.stdout
    assert len(list((tmp_path / "t").rglob("*.*"))) == 5


def test_then_trash_yes_hands_over_to_a_delete_job(cli, tmp_path):
    small_tree(tmp_path / "t")
    data = cli.json("dupes", tmp_path / "t", "--then", "trash", "--keep", "oldest", "--yes")
    action = data["summary"]["action"]
    assert action["applied"] and action["child_status"] == "completed" and action["files"] == 3
    keep = {g["keep"] for g in data["groups"]}
    assert str(tmp_path / "t" / "c" / "one-again.bin") in keep  # the oldest
    for g in data["groups"]:
        assert os.path.exists(g["keep"]) and not any(os.path.exists(p) for p in g["act"])
    trashed = os.listdir(tmp_path / "xdg-data" / "Trash" / "files")
    assert len(trashed) == 3
    child = cli.json("jobs", "show", action["child"])
    assert child["type"] == "delete" and child["parent_id"] == data["job"]


def test_then_hardlink(cli, tmp_path):
    small_tree(tmp_path / "t")
    data = cli.json("dupes", tmp_path / "t", "--then", "hardlink", "--yes")
    assert data["summary"]["action"]["done"] == 3
    for g in data["groups"]:
        inodes = {os.stat(p).st_ino for p in g["paths"]}
        assert len(inodes) == 1
    assert cli.json("dupes", tmp_path / "t")["groups"] == []


def test_then_confirmed_on_a_terminal_rechecks_files(cli, tmp_path):
    small_tree(tmp_path / "t")
    # change one duplicate between the scan and the answer: it must be left alone
    code, text = with_tty_after_edit(tmp_path)
    assert code == 0, text
    assert (tmp_path / "t" / "b" / "two.txt").exists()          # edited: left alone
    assert not (tmp_path / "t" / "b" / "one-copy.bin").exists()  # trashed
    assert (tmp_path / "t" / "a" / "one.bin").exists()           # kept


def with_tty_after_edit(tmp_path) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "sdjobs", "dupes", str(tmp_path / "t"), "--then", "trash"],
                            stdin=slave, stderr=slave, stdout=subprocess.PIPE)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            seen += os.read(master, 4096)
    edited = tmp_path / "t" / "b" / "two.txt"
    edited.write_bytes(b"TWO\n")
    os.utime(edited, ns=(0, time.time_ns() + 10**9))
    os.write(master, b"y\n")
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    proc.wait(10)
    os.close(master)
    return proc.returncode, seen.decode(errors="replace")


def test_delete_needs_yes_without_a_terminal(cli, tmp_path):
    write(tmp_path / "f", b"x")
    proc = cli("delete", tmp_path / "f", "--mode", "permanent", input="")
    assert proc.returncode == 2 and "--yes" in proc.stderr
    assert (tmp_path / "f").exists()
    proc = cli("delete", "/", input="")
    assert proc.returncode == 2 and "root directory" in proc.stderr


def test_delete_refuses_the_library_before_submitting(cli, lib):
    cli("jobs", "ls", check=True)  # the library exists
    for target in (lib, lib.parent):
        proc = cli("delete", target, "--mode", "permanent", "--yes")
        assert proc.returncode == 2 and "refusing" in proc.stderr and "sdjobs library" in proc.stderr
    assert lib.exists() and cli.json("jobs", "ls") == []


def test_delete_asks_on_a_terminal(cli, tmp_path):
    write(tmp_path / "d" / "f1", b"x" * 2000)
    write(tmp_path / "d" / "f2", b"y")
    code, text = with_tty(["delete", str(tmp_path / "d"), "--mode", "permanent"], "n")
    assert code == 1 and "2 files" in text and "nothing was deleted" in text
    assert (tmp_path / "d").exists()
    code, text = with_tty(["delete", str(tmp_path / "d"), "--mode", "secure"], "y")
    assert code == 0, text
    assert "no guarantee" in text
    assert not (tmp_path / "d").exists()


def test_validate_exit_codes_and_json(cli, tmp_path):
    write(tmp_path / "ok" / "a.txt", b"fine")
    proc = cli("validate", tmp_path / "ok", "--mode", "corruption")
    assert proc.returncode == 0 and "no issues" in proc.stdout
    write(tmp_path / "ok" / "photo.jpg", b"")
    proc = cli("validate", tmp_path / "ok", "--mode", "corruption", "--json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert [i["kind"] for i in data["issues"]] == ["empty-content"]
    assert data["summary"]["counts"]["error"] == 1
    proc = cli("validate", tmp_path / "ok", "--mode", "integrity")
    assert proc.returncode == 2 and "--full-hash" in proc.stderr
