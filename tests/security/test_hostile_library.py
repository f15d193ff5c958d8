"""Libraries and data folders another user prepared are refused before anything runs or is created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import manifest

REFUSED = "refusing to run jobs from"


def queued_delete(db: Path, target: Path) -> None:
    """A library with a queued permanent deletion of ``target`` (no runner started)."""
    from sdjobs.core import registry
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    cls = registry.get("delete")
    store = Store(Library(db))
    try:
        store.submit("delete", cls.version, {"paths": [str(target)], "mode": "permanent", "yes": True,
                                              "library": str(db)})
    finally:
        store.close()


def hand_over(path: Path, uid: int, gid: int, mode_file=0o666, mode_dir=0o777) -> None:
    for dirpath, _dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, gid)
        os.chmod(dirpath, mode_dir)
        for f in filenames:
            os.chown(os.path.join(dirpath, f), uid, gid)
            os.chmod(os.path.join(dirpath, f), mode_file)


def run(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sdjobs", *map(str, args)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


@pytest.fixture
def planted(lib, attacker, arena):
    """The attacker's world-writable library with a queued delete of a root-only file."""
    uid, gid = attacker
    folder = arena / "theirs"
    db = folder / "library.db"
    queued_delete(db, arena / "outside" / "secret")
    hand_over(folder, uid, gid)
    return db


@pytest.mark.parametrize("command", [["jobs", "ls"], ["index", "."], ["runner", "--idle-exit", "1"]])
def test_a_world_writable_library_of_another_user_is_refused(planted, arena, command):
    before = manifest(arena / "outside")
    proc = run("--library", planted, *command)
    assert proc.returncode == 2, proc.stderr
    assert REFUSED in proc.stderr and "docs/security.md" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert (arena / "outside" / "secret").exists()
    assert manifest(arena / "outside") == before
    assert not (planted.parent / "library-data" / "runner.lock").exists()


def test_the_message_names_owner_and_mode(planted):
    proc = run("--library", planted, "jobs", "ls")
    uid = os.stat(planted).st_uid
    assert f"is owned by uid {uid} and writable by others" in proc.stderr


def test_root_owned_library_in_a_folder_others_can_write_is_refused(lib, arena):
    folder = arena / "open"
    queued_delete(folder / "library.db", arena / "outside" / "secret")
    os.chmod(folder, 0o777)  # without the sticky bit: anyone may swap library.db
    proc = run("--library", folder / "library.db", "jobs", "ls")
    assert proc.returncode == 2 and "writable by others without the sticky bit" in proc.stderr, proc.stderr
    assert (arena / "outside" / "secret").exists()


@pytest.mark.parametrize("owner", ["attacker", "root"])
def test_a_data_folder_prepared_with_symlinks_is_refused(lib, attacker, arena, owner):
    uid, gid = attacker
    outside = arena / "outside"
    folder = arena / "prepared"
    db = folder / "library.db"
    queued_delete(db, outside / "secret")
    data = folder / "library-data"
    for name in os.listdir(data):
        os.unlink(data / name)
    if owner == "attacker":
        hand_over(folder, uid, gid, mode_file=0o644, mode_dir=0o755)
    for name, target in (("autostart.lock", outside / "created-by-root"), ("runner.lock", outside / "secret"),
                         ("runner.log", outside / "deep" / "log"), ("results", outside / "deep"),
                         ("library.lock", outside / "lock"), ("cli.sock", outside / "sock")):
        os.symlink(target, data / name)
    if owner == "attacker":
        for p in [data / n for n in os.listdir(data)]:
            os.lchown(p, uid, gid)
    else:
        os.chmod(folder, 0o700)
    before = manifest(outside)
    for command in (["jobs", "ls"], ["copy", arena / "src", arena / "copied"], ["runner", "--idle-exit", "1"]):
        proc = run("--library", db, *command, env={"SDJOBS_CLI_SERVER": "1"})
        assert proc.returncode == 2, (command, proc.stderr)
        assert REFUSED in proc.stderr or "symlink" in proc.stderr, proc.stderr
    assert manifest(outside) == before
    assert not (arena / "copied").exists()


def test_the_data_folder_itself_as_a_symlink_is_refused(lib, arena):
    folder = arena / "linked"
    queued_delete(folder / "library.db", arena / "outside" / "secret")
    data = folder / "library-data"
    os.rename(data, arena / "elsewhere")
    os.symlink(arena / "elsewhere", data)
    proc = run("--library", folder / "library.db", "jobs", "ls")
    assert proc.returncode == 2 and "is a symlink" in proc.stderr, proc.stderr


def test_a_new_library_is_never_created_through_a_planted_symlink(lib, arena):
    folder = arena / "fresh"
    folder.mkdir(mode=0o700)
    os.symlink(arena / "outside" / "made", folder / "library.db")
    before = manifest(arena / "outside")
    proc = run("--library", folder / "library.db", "jobs", "ls")
    assert proc.returncode == 2, proc.stderr
    assert manifest(arena / "outside") == before


def test_own_library_works_and_its_files_are_private(lib, cli):
    proc = cli("jobs", "ls")
    assert proc.returncode == 0, proc.stderr
    data = lib.parent / "library-data"
    assert os.stat(data).st_mode & 0o077 == 0
    assert os.stat(lib).st_mode & 0o077 == 0


def test_shared_mode_accepts_a_setgid_group_folder_for_a_member_and_never_for_root(attacker, arena):
    """The shared mode's own checks, as the attacker uid (a member of the folder's group)."""
    from sdjobs.store import trust

    uid, gid = attacker
    folder = arena / "shared"
    folder.mkdir()
    os.chown(folder, 0, gid)
    os.chmod(folder, 0o2770)
    db = folder / "library.db"
    db.write_bytes(b"")
    os.chown(db, 0, gid)
    os.chmod(db, 0o660)
    (folder / "library-data").mkdir()
    os.chown(folder / "library-data", 0, gid)
    os.chmod(folder / "library-data", 0o2770)

    def check(shared: bool) -> str:
        os.environ[trust.SHARED_VAR] = "1" if shared else ""
        try:
            trust.check_library(str(db), str(folder / "library-data"))
            return "ok"
        except trust.UntrustedLibrary as exc:
            return str(exc)
        finally:
            os.environ.pop(trust.SHARED_VAR, None)

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the member)
        try:
            os.setgroups([gid])
            os.setgid(gid)
            os.setuid(uid)
            os.write(write, (check(False) + "\0" + check(True)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    alone, shared = os.read(read, 4096).decode().split("\0")
    assert alone != "ok" and "shared libraries" in alone
    assert shared == "ok"
    assert "refused for root" in check(True)
    os.chmod(db, 0o666)  # never world-writable, shared or not
    assert "writable by others" in check(True) or "refused for root" in check(True)
