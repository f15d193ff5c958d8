"""delete: the trash layout of the freedesktop.org spec, permanent and secure removal, refusals."""

from __future__ import annotations

import os
import time
from datetime import datetime
from urllib.parse import unquote_to_bytes

import pytest
from dupes_helpers import run_inline, write

from sdjobs.core import codec
from sdjobs.core.errors import BadInput, NotFound

RAW = b"r\xe9sum\xe9 #1.txt"  # Latin-1 bytes (not UTF-8), a space and a '#'


def delete(store, lib, **config):
    return run_inline(store, "delete", config)


def read_info(path) -> dict:
    raw = open(path, "rb").read().decode("ascii")
    lines = raw.split("\n")
    assert lines[0] == "[Trash Info]" and lines[-1] == ""
    return dict(line.split("=", 1) for line in lines[1:-1])


def test_trash_layout_follows_the_spec(store, lib, tmp_path):
    home_trash = tmp_path / "xdg-data" / "Trash"  # XDG_DATA_HOME is set by the lib fixture
    src = tmp_path / "src"
    write(os.path.join(os.fsencode(src), RAW), b"cv")
    write(src / "dir" / "inner" / "f", b"x" * 5000)
    write(src / "same", b"1")
    write(src / "again" / "same", b"2")
    rec = delete(store, lib, paths=[os.path.join(os.fsencode(src), RAW).decode("utf-8", "surrogateescape"),
                                    str(src / "dir"), str(src / "same"), str(src / "again" / "same")])
    assert rec.status == "completed", rec.error
    assert rec.output["targets"] == 4 and rec.output["files"] == 4
    files, info = home_trash / "files", home_trash / "info"
    assert sorted(os.listdir(os.fsencode(files))) == sorted([RAW, b"dir", b"same", b"same.2"])
    assert oct(os.stat(home_trash).st_mode & 0o777) == "0o700"
    # the .trashinfo: Path percent-encoded (absolute for the home trash), DeletionDate local time
    entry = read_info(os.path.join(os.fsencode(info), RAW + b".trashinfo"))
    assert unquote_to_bytes(entry["Path"]) == os.path.join(os.fsencode(os.path.realpath(src)), RAW)
    assert "%E9" in entry["Path"] and "%20" in entry["Path"] and "%23" in entry["Path"]
    when = datetime.strptime(entry["DeletionDate"], "%Y-%m-%dT%H:%M:%S")
    assert abs(when.timestamp() - time.time()) < 120
    assert unquote_to_bytes(read_info(info / "same.2.trashinfo")["Path"]).endswith(b"/again/same")
    assert (files / "dir" / "inner" / "f").read_bytes() == b"x" * 5000
    # directorysizes: "size mtime percent-encoded-name" for the trashed directory
    sizes = (home_trash / "directorysizes").read_text().split("\n")
    line = next(x for x in sizes if x.endswith(" dir"))
    size, mtime, _ = line.split(" ")
    assert int(size) >= 5000 and int(mtime) == int(os.stat(info / "dir.trashinfo").st_mtime)
    assert not os.path.lexists(src / "dir") and not os.path.lexists(src / "same")


def test_permanent_never_follows_symlinks(store, lib, tmp_path):
    outside = tmp_path / "outside"
    write(outside / "precious", b"keep me")
    target = tmp_path / "target"
    write(target / "a" / "b" / "c.txt", b"x" * 100)
    write(target / "d.txt", b"y")
    os.symlink(outside, target / "a" / "link-to-outside")
    os.symlink(outside / "precious", target / "file-link")
    rec = delete(store, lib, paths=[str(target)], mode="permanent", yes=True)
    assert rec.status == "completed", rec.error
    assert not os.path.lexists(target)
    assert (outside / "precious").read_bytes() == b"keep me"
    assert rec.output["files"] == 4 and rec.output["bytes"] == 101


def test_a_symlink_target_is_deleted_as_a_link(store, lib, tmp_path):
    write(tmp_path / "real" / "f", b"data")
    os.symlink(tmp_path / "real", tmp_path / "link")
    rec = delete(store, lib, paths=[str(tmp_path / "link")], mode="permanent", yes=True)
    assert rec.status == "completed"
    assert not os.path.lexists(tmp_path / "link")
    assert (tmp_path / "real" / "f").read_bytes() == b"data"


def test_secure_overwrites_then_unlinks(store, lib, tmp_path):
    victim = tmp_path / "secret.txt"
    write(victim, b"password" * 1000)
    fd = os.open(victim, os.O_RDONLY)  # still sees the inode after the unlink
    other = tmp_path / "shared"
    write(other, b"shared content")
    os.link(other, tmp_path / "shared-link")
    try:
        rec = delete(store, lib, paths=[str(victim), str(tmp_path / "shared-link")], mode="secure", yes=True,
                     passes=2)
        assert rec.status == "completed", rec.error
        assert os.fstat(fd).st_size == 0 and os.fstat(fd).st_nlink == 0
        assert os.listdir(tmp_path) == ["lib", "xdg-data", "shared"] or "secret.txt" not in os.listdir(tmp_path)
    finally:
        os.close(fd)
    # a file with another name is unlinked but not overwritten: its content lives on
    assert other.read_bytes() == b"shared content"
    assert rec.warnings == 1


@pytest.mark.parametrize("what", ["root", "home"])
def test_refusals(store, lib, tmp_path, what):
    paths = {"root": "/", "home": os.path.expanduser("~")}
    with pytest.raises(BadInput, match="refusing"):
        delete(store, lib, paths=[paths[what]], mode="permanent", yes=True)


@pytest.mark.parametrize("what", ["library", "library-dir", "library-parent", "library-wal", "library-data",
                                  "inside-library-data"])
@pytest.mark.parametrize("old_config", [False, True])
def test_the_library_is_refused_with_no_library_in_the_configuration(store, lib, tmp_path, what, old_config):
    """The job protects its own library (``ctx.library``): no configuration field needed, and
    an old configuration that names another library (or none) changes nothing."""
    data_dir = str(store.library.data_dir)
    paths = {"library": str(lib), "library-dir": str(lib.parent), "library-parent": str(lib.parent.parent),
             "library-wal": str(lib) + "-wal", "library-data": data_dir,
             "inside-library-data": os.path.join(data_dir, "thumbs")}
    if what in ("library-wal", "inside-library-data") and not os.path.exists(paths[what]):
        write(paths[what], b"")
    config = {"paths": [paths[what]], "mode": "permanent", "yes": True}
    if old_config:
        config["library"] = str(tmp_path / "another" / "library.db")  # a retired field, still accepted
    rec = run_inline(store, "delete", config)
    assert rec.output["refused"] == 1 and rec.status == "completed-with-errors"
    assert os.path.exists(lib) and os.path.exists(paths[what])


def test_bad_input(store, lib, tmp_path):
    with pytest.raises(NotFound):
        delete(store, lib, paths=[str(tmp_path / "nope")])
    write(tmp_path / "f", b"x")
    with pytest.raises(BadInput, match="--yes"):
        delete(store, lib, paths=[str(tmp_path / "f")], mode="permanent")
    with pytest.raises(BadInput, match="at least one"):
        delete(store, lib, paths=[])
    assert (tmp_path / "f").exists()


def test_listed_targets_are_rechecked(store, lib, tmp_path):
    keep, dup, changed, orphan = (tmp_path / n for n in ("keep", "dup", "changed", "orphan"))
    for p in (keep, dup, changed, orphan):
        write(p, b"same", mtime_ns=1_600_000_000_000_000_000)
    rows = [[str(p), 4, 1_600_000_000_000_000_000, str(k), 4, 1_600_000_000_000_000_000]
            for p, k in ((dup, keep), (changed, keep), (orphan, tmp_path / "gone"))]
    write(changed, b"SAME")  # same size, new mtime
    listing = tmp_path / "list.msgpack"
    listing.write_bytes(codec.pack(rows))
    rec = delete(store, lib, from_file=str(listing), mode="permanent", yes=True)
    assert rec.status == "completed", rec.error
    assert not dup.exists() and changed.exists() and orphan.exists() and keep.exists()
    assert rec.output["skipped"] == 2 and rec.warnings == 2
