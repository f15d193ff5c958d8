"""fs/copyfile: the whole-file fast path and the rename that never replaces."""

from __future__ import annotations

import os
import stat

import pytest

from sdjobs.fs import copyfile as cf


def make(path, data: bytes, mode: int, mtime_ns: int):
    path.write_bytes(data)
    os.chmod(path, mode)
    os.utime(path, ns=(1_000_000_000, mtime_ns))
    return path


@pytest.mark.parametrize("verify", [False, True])
@pytest.mark.parametrize("mode", [0o644, 0o600, 0o444, 0o777, 0o2755, 0o4750])
def test_copy_whole_keeps_content_mode_and_times(tmp_path, mode, verify):
    data = os.urandom(12_345)
    src = make(tmp_path / "src", data, mode, 1_234_567_891_234_567_891)
    dst = tmp_path / "dst"
    assert cf.copy_whole(str(src), str(dst), 7, verify=verify, replace=False) == len(data)
    st = os.stat(dst)
    assert dst.read_bytes() == data
    assert stat.S_IMODE(st.st_mode) == mode
    assert st.st_mtime_ns == 1_234_567_891_234_567_891
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]


def test_copy_whole_of_an_empty_file(tmp_path):
    src = make(tmp_path / "src", b"", 0o640, 5_000_000_000)
    assert cf.copy_whole(str(src), str(tmp_path / "dst"), 7) == 0
    assert (tmp_path / "dst").read_bytes() == b"" and os.stat(tmp_path / "dst").st_mtime_ns == 5_000_000_000


def test_copy_whole_replaces_a_temp_left_by_an_interrupted_run(tmp_path):
    src = make(tmp_path / "src", b"fresh", 0o644, 5_000_000_000)
    dst = tmp_path / "dst"
    stale = cf.temp_name(str(dst), 7)
    with open(stale, "wb") as f:
        f.write(b"half of something much longer")
    cf.copy_whole(str(src), str(dst), 7)
    assert dst.read_bytes() == b"fresh"
    assert not os.path.lexists(stale)


def test_without_replace_an_existing_destination_is_left_alone_and_no_temp_remains(tmp_path):
    src = make(tmp_path / "src", b"new", 0o644, 5_000_000_000)
    dst = tmp_path / "dst"
    dst.write_bytes(b"there first")
    with pytest.raises(FileExistsError):
        cf.copy_whole(str(src), str(dst), 7, replace=False)
    assert dst.read_bytes() == b"there first"
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]
    cf.copy_whole(str(src), str(dst), 7, replace=True)
    assert dst.read_bytes() == b"new"


def test_rename_into_never_replaces_a_symlink_or_a_dangling_one(tmp_path):
    os.symlink("/nonexistent", tmp_path / "dangling")
    tmp = tmp_path / "tmp"
    tmp.write_text("x")
    with pytest.raises(FileExistsError):
        cf.rename_into(str(tmp), str(tmp_path / "dangling"), replace=False)
    assert os.readlink(tmp_path / "dangling") == "/nonexistent" and tmp.exists()
    cf.rename_into(str(tmp), str(tmp_path / "free"), replace=False)
    assert (tmp_path / "free").read_text() == "x" and not tmp.exists()


def test_a_vanished_source_raises_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        cf.copy_whole(str(tmp_path / "gone"), str(tmp_path / "dst"), 7)
    assert os.listdir(tmp_path) == []
