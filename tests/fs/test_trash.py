"""Tests for sdjobs.fs.trash: the freedesktop.org trash layout, field by field."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import time
import uuid
from datetime import datetime
from urllib.parse import unquote_to_bytes

import pytest

from sdjobs.fs.trash import (
    TrashedItem, find_mount_top, home_trash_dir, topdir_trash, trash_dir_for, trash_path,
)

UID = str(os.getuid())


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An XDG_DATA_HOME inside tmp_path; returns the home trash path."""
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    return data / "Trash"


def read_info(info_path: str) -> dict[str, str]:
    raw = open(info_path, "rb").read()
    lines = raw.decode("ascii").split("\n")
    assert lines[0] == "[Trash Info]"
    assert lines[-1] == ""  # ends with a newline
    fields = dict(line.split("=", 1) for line in lines[1:-1])
    assert list(fields) == ["Path", "DeletionDate"]
    return fields


def assert_recent_local_date(value: str) -> None:
    when = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
    assert abs(when.timestamp() - time.time()) < 60


def test_home_trash_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "x"))
    assert home_trash_dir() == str(tmp_path / "x" / "Trash")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert home_trash_dir() == str(tmp_path / "h" / ".local" / "share" / "Trash")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert home_trash_dir() == str(tmp_path / "h" / ".local" / "share" / "Trash")


def test_trash_file_to_home_trash(tmp_path, home):
    src = tmp_path / "src" / "report.txt"
    src.parent.mkdir()
    src.write_bytes(b"content")
    item = trash_path(str(src))
    assert isinstance(item, TrashedItem)
    assert item.original == str(src)
    assert item.trashed_path == str(home / "files" / "report.txt")
    assert item.info_path == str(home / "info" / "report.txt.trashinfo")
    assert not src.exists()
    assert open(item.trashed_path, "rb").read() == b"content"
    fields = read_info(item.info_path)
    assert fields["Path"] == str(src)
    assert_recent_local_date(fields["DeletionDate"])
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert sorted(os.listdir(home)) == ["files", "info"]  # no directorysizes for a file


def test_collisions_get_numbered_names(tmp_path, home):
    items = []
    for i in range(3):
        d = tmp_path / f"d{i}"
        d.mkdir()
        (d / "same.txt").write_text(str(i))
        items.append(trash_path(str(d / "same.txt")))
    names = [os.path.basename(it.trashed_path) for it in items]
    assert names == ["same.txt", "same.txt.2", "same.txt.3"]
    for i, it in enumerate(items):
        assert open(it.trashed_path).read() == str(i)
        assert it.info_path == str(home / "info" / (names[i] + ".trashinfo"))
        assert read_info(it.info_path)["Path"] == str(tmp_path / f"d{i}" / "same.txt")


def test_orphan_in_files_is_not_overwritten(tmp_path, home):
    (home / "files").mkdir(parents=True)
    (home / "files" / "x").write_text("orphan")
    (tmp_path / "x").write_text("new")
    item = trash_path(str(tmp_path / "x"))
    assert item.trashed_path == str(home / "files" / "x.2")
    assert (home / "files" / "x").read_text() == "orphan"
    assert not (home / "info" / "x.trashinfo").exists()


def test_a_move_cut_short_reuses_its_info_and_leaves_no_orphan(tmp_path, home):
    """Killed after its .trashinfo was written but before the rename: the next move of the same
    path (a resumed delete) takes that info over instead of leaving it without a file."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    other = trash_path(str(_touch(tmp_path / "b" / "x")))  # x.trashinfo: another path's, complete
    (home / "info" / "x.2.trashinfo").write_bytes(  # the cut-short move of a/x
        f"[Trash Info]\nPath={tmp_path / 'a' / 'x'}\nDeletionDate=2026-01-01T00:00:00\n".encode())
    (home / "info" / "x.3.trashinfo").write_bytes(  # someone else's leftover: not ours to take
        f"[Trash Info]\nPath={tmp_path / 'c' / 'x'}\nDeletionDate=2026-01-01T00:00:00\n".encode())
    item = trash_path(str(_touch(tmp_path / "a" / "x")))
    assert item.trashed_path == str(home / "files" / "x.2")
    assert read_info(item.info_path)["Path"] == str(tmp_path / "a" / "x")
    assert sorted(os.listdir(home / "info")) == ["x.2.trashinfo", "x.3.trashinfo", "x.trashinfo"]
    assert read_info(other.info_path)["Path"] == str(tmp_path / "b" / "x")
    # a third x gets a fresh name past both
    assert trash_path(str(_touch(tmp_path / "x"))).trashed_path == str(home / "files" / "x.4")


def _touch(path):
    path.write_text(path.parent.name)
    return path


def test_non_utf8_name_is_percent_encoded_byte_exact(tmp_path, home):
    raw = b"caf\xe9 100%#?.txt"
    src = os.path.join(os.fsencode(tmp_path), raw)
    with open(src, "wb") as f:
        f.write(b"z")
    item = trash_path(os.fsdecode(src))
    assert os.fsencode(item.trashed_path) == os.path.join(os.fsencode(home), b"files", raw)
    info_text = read_info(item.info_path)
    assert unquote_to_bytes(info_text["Path"]) == src
    assert info_text["Path"].endswith("/caf%E9%20100%25%23%3F.txt")
    assert info_text["Path"].isascii()
    assert os.fsencode(item.info_path).endswith(raw + b".trashinfo")


def test_trash_directory_updates_directorysizes(tmp_path, home):
    def make_dir(name: str, n: int):
        d = tmp_path / name
        (d / "sub").mkdir(parents=True)
        for i in range(n):
            (d / "sub" / f"f{i}").write_bytes(b"x" * 5000)
        return d

    def du(path: str) -> int:
        if shutil.which("du"):
            return int(subprocess.run(["du", "-s", "-B1", path], check=True,
                                      capture_output=True, text=True).stdout.split()[0])
        total = os.lstat(path).st_blocks * 512
        for dirpath, dirs, files in os.walk(path):
            for n in dirs + files:
                total += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
        return total

    d = make_dir("my dir", 3)
    os.link(d / "sub" / "f0", d / "hardlink")  # du counts it once
    first = trash_path(str(d))
    second = trash_path(str(make_dir("other", 1)))
    lines = (home / "directorysizes").read_text().splitlines()
    expected = [
        f"{du(first.trashed_path)} {int(os.stat(first.info_path).st_mtime)} my%20dir",
        f"{du(second.trashed_path)} {int(os.stat(second.info_path).st_mtime)} other",
    ]
    assert lines == expected
    assert int(lines[0].split()[0]) >= 3 * 5000
    # An entry whose directory left the trash is dropped on the next update.
    shutil.rmtree(first.trashed_path)
    os.unlink(first.info_path)
    third = trash_path(str(make_dir("third", 0)))
    names = [line.split(" ")[2] for line in (home / "directorysizes").read_text().splitlines()]
    assert names == ["other", "third"]
    assert os.path.basename(third.trashed_path) == "third"
    assert not [n for n in os.listdir(home) if n.startswith("directorysizes.")]


def test_symlink_is_trashed_as_a_link(tmp_path, home):
    target = tmp_path / "target.txt"
    target.write_text("keep me")
    link = tmp_path / "link"
    os.symlink(target, link)
    item = trash_path(str(link))
    assert os.path.islink(item.trashed_path)
    assert target.read_text() == "keep me"
    assert not os.path.lexists(link)


def test_parent_symlinks_are_resolved_in_path(tmp_path, home):
    real = tmp_path / "real"
    real.mkdir()
    (real / "f").write_text("1")
    os.symlink(real, tmp_path / "alias")
    item = trash_path(str(tmp_path / "alias" / "f"))
    assert read_info(item.info_path)["Path"] == str(real / "f")


def test_long_name_fits_name_max(tmp_path, home):
    name = "é" * 120 + "x"  # 241 bytes
    (tmp_path / name).write_text("l")
    item = trash_path(str(tmp_path / name))
    info_name = os.fsencode(os.path.basename(item.info_path))
    assert len(info_name) <= 255
    trashed = os.path.basename(item.trashed_path)
    assert info_name == os.fsencode(trashed) + b".trashinfo"
    assert trashed.encode("utf-8")  # still valid UTF-8: not cut inside a character
    assert name.startswith(trashed)


def test_failed_rename_removes_trashinfo(tmp_path, monkeypatch):
    # Trashing the directory that holds the home trash cannot work: rename()
    # into one's own subdirectory fails with EINVAL.
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    data.mkdir()
    with pytest.raises(OSError):
        trash_path(str(data))
    assert os.listdir(data / "Trash" / "info") == []
    assert os.listdir(data / "Trash" / "files") == []


def test_mount_point_is_refused(tmp_path, home):
    for cand in ("/dev/shm", "/proc", "/sys"):
        if os.path.ismount(cand) and os.stat(cand).st_dev != os.stat(os.path.dirname(cand)).st_dev:
            break
    else:
        pytest.skip("no mount point to try")
    with pytest.raises(OSError) as info:
        trash_path(cand)
    assert info.value.errno == errno.EBUSY
    assert not home.exists()


def test_missing_file_raises(tmp_path, home):
    with pytest.raises(FileNotFoundError):
        trash_path(str(tmp_path / "nope"))
    with pytest.raises(ValueError):
        trash_path("/")


# --- top directory trashes, exercised on an ordinary directory ------------------

def test_topdir_without_admin_trash_uses_trash_uid(tmp_path):
    got = topdir_trash(str(tmp_path))
    assert got == str(tmp_path / f".Trash-{UID}")
    st = os.lstat(got)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700


def test_topdir_admin_trash_with_sticky_bit(tmp_path):
    admin = tmp_path / ".Trash"
    admin.mkdir()
    os.chmod(admin, 0o1777)
    assert topdir_trash(str(tmp_path)) == str(admin / UID)
    assert stat.S_IMODE(os.stat(admin / UID).st_mode) == 0o700
    assert not (tmp_path / f".Trash-{UID}").exists()


def test_topdir_admin_trash_without_sticky_bit_is_not_used(tmp_path):
    admin = tmp_path / ".Trash"
    admin.mkdir()
    os.chmod(admin, 0o777)
    (admin / UID).mkdir()
    assert topdir_trash(str(tmp_path)) == str(tmp_path / f".Trash-{UID}")


def test_topdir_admin_trash_symlink_is_not_used(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chmod(elsewhere, 0o1777)
    top = tmp_path / "top"
    top.mkdir()
    os.symlink(elsewhere, top / ".Trash")
    assert topdir_trash(str(top)) == str(top / f".Trash-{UID}")
    assert os.listdir(elsewhere) == []


def test_topdir_user_dir_symlink_falls_back(tmp_path):
    admin = tmp_path / ".Trash"
    admin.mkdir()
    os.chmod(admin, 0o1777)
    (tmp_path / "trap").mkdir()
    os.symlink(tmp_path / "trap", admin / UID)
    assert topdir_trash(str(tmp_path)) == str(tmp_path / f".Trash-{UID}")


def test_topdir_trash_uid_symlink_is_refused(tmp_path):
    (tmp_path / "trap").mkdir()
    os.symlink(tmp_path / "trap", tmp_path / f".Trash-{UID}")
    with pytest.raises(PermissionError):
        topdir_trash(str(tmp_path))


def test_find_mount_top_is_an_ancestor_on_the_same_device(tmp_path):
    (tmp_path / "f").write_text("x")
    top = find_mount_top(str(tmp_path / "f"))
    assert str(tmp_path).startswith(top.rstrip("/") + "/") or top == "/"
    dev = os.stat(tmp_path).st_dev
    assert os.stat(top).st_dev == dev
    assert top == "/" or os.stat(os.path.dirname(top)).st_dev != dev


def test_same_device_goes_to_home_trash(tmp_path, home):
    (tmp_path / "f").write_text("x")
    assert trash_dir_for(str(tmp_path / "f")) == (str(home), None)


# --- a real second device -------------------------------------------------------

def _other_device_dir(tmp_path) -> str | None:
    for cand in ("/dev/shm", "/run/shm", "/run/user/" + UID):
        if os.path.isdir(cand) and os.access(cand, os.W_OK | os.X_OK) \
                and os.stat(cand).st_dev != os.stat(tmp_path).st_dev:
            return cand
    return None


def test_topdir_trash_on_another_device(tmp_path, home):
    other = _other_device_dir(tmp_path)
    if other is None:
        pytest.skip("no writable directory on another device")
    work = os.path.join(other, f"sdjobs-trash-test-{uuid.uuid4().hex}")
    os.mkdir(work)
    top = find_mount_top(os.path.join(work, "x"))
    assert os.path.realpath(work).startswith(top.rstrip("/") + "/")
    trash_dir = None
    existed = any(os.path.lexists(os.path.join(top, d)) for d in (f".Trash-{UID}", f".Trash/{UID}"))
    try:
        src = os.path.join(work, "f é.txt")
        with open(src, "w") as f:
            f.write("remote")
        trash_dir, topdir = trash_dir_for(src)
        assert topdir == top
        item = trash_path(src)
        assert os.path.dirname(os.path.dirname(item.trashed_path)) == trash_dir
        assert trash_dir in (os.path.join(top, ".Trash", UID), os.path.join(top, f".Trash-{UID}"))
        assert not os.path.lexists(src)
        assert open(item.trashed_path).read() == "remote"
        fields = read_info(item.info_path)
        rel = os.path.relpath(src, top)
        assert not fields["Path"].startswith("/")
        assert unquote_to_bytes(fields["Path"]) == os.fsencode(rel)
        assert_recent_local_date(fields["DeletionDate"])
        assert not home.exists()
        os.unlink(item.trashed_path)
        os.unlink(item.info_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if trash_dir is not None:
            # Remove the trash dirs only if this test created them and they
            # are empty again (another run may be using them).
            for sub in ("files", "info", "") if not existed else ():
                try:
                    os.rmdir(os.path.join(trash_dir, sub))
                except OSError:
                    break
