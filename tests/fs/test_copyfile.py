"""fs/copyfile: the whole-file fast path, private temp names, torn sources, and the rename that never replaces."""

from __future__ import annotations

import os
import stat

import pytest

from sdjobs.fs import copyfile as cf


def at(path):
    """(directory descriptor, name): how copyfile names a destination."""
    fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
    return fd, os.path.basename(path)


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
    assert cf.copy_whole(str(src), *at(dst), "0badc0de", verify=verify, replace=False)[0] == len(data)
    st = os.stat(dst)
    assert dst.read_bytes() == data
    assert stat.S_IMODE(st.st_mode) == mode
    assert st.st_mtime_ns == 1_234_567_891_234_567_891
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]


@pytest.mark.parametrize("verify", [False, True])
@pytest.mark.parametrize("mode", [0o666, 0o777, 0o4777, 0o2775, 0o1777, 0o640, 0o000])
def test_a_temp_is_never_writable_by_others_nor_set_id_while_it_is_written(tmp_path, monkeypatch, mode, verify):
    """Its bits are the source's, less group and other write and the set-id bits, until it is complete."""
    src = make(tmp_path / "src", os.urandom(5000), mode, 5_000_000_000)
    seen = []
    for fn, at_fd in (("_small_copy", 1), ("hashed_copy", 1), ("_write_whole", 0)):  # (where the temp's fd is)
        real = getattr(cf, fn)

        def spy(*args, real=real, at_fd=at_fd):
            seen.append(stat.S_IMODE(os.fstat(args[at_fd]).st_mode))
            return real(*args)

        monkeypatch.setattr(cf, fn, spy)
    old = os.umask(0)  # (the umask would hide a group or other write bit)
    try:
        cf.copy_whole(str(src), *at(tmp_path / "dst"), "0badc0de", verify=verify)
    finally:
        os.umask(old)
    assert len(seen) == 1 and seen[0] & 0o7022 == 0 and seen[0] & ~mode == 0
    assert stat.S_IMODE(os.stat(tmp_path / "dst").st_mode) == mode


def test_a_file_whose_mode_creation_gives_takes_no_fchmod(tmp_path, monkeypatch):
    """(One system call less for most files: 0644 under umask 022.)"""
    src = make(tmp_path / "src", b"data", 0o644 & ~cf._UMASK, 5_000_000_000)
    calls = []
    monkeypatch.setattr(cf.os, "fchmod", lambda *a: calls.append(a))
    cf.copy_whole(str(src), *at(tmp_path / "dst"), "0badc0de")
    assert calls == [] and stat.S_IMODE(os.stat(tmp_path / "dst").st_mode) == 0o644 & ~cf._UMASK


@pytest.mark.parametrize("size", [5000, cf.READ_CHUNK, cf.READ_CHUNK + 1, 1_000_000])
def test_verify_fails_a_copy_whose_bytes_on_disk_are_not_the_sources(tmp_path, monkeypatch, size):
    """--verify compares what is on disk: a write that lands other bytes than it was given is caught."""
    src = make(tmp_path / "src", os.urandom(size), 0o644, 5_000_000_000)
    real = os.pwrite

    def bad_write(fd, data, offset):  # the bytes it reports written are not the bytes on disk
        data = bytearray(data)
        data[-1] ^= 0xFF
        return real(fd, bytes(data), offset)

    monkeypatch.setattr(cf.os, "pwrite", bad_write)
    with pytest.raises(cf.VerifyError, match="verification failed"):
        cf.copy_whole(str(src), *at(tmp_path / "dst"), "0badc0de", verify=True)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["src"]
    n, _ = cf.copy_whole(str(src), *at(tmp_path / "dst"), "0badc0de", verify=True)
    assert n == size and (tmp_path / "dst").read_bytes() == src.read_bytes()


def test_copy_whole_of_an_empty_file(tmp_path):
    src = make(tmp_path / "src", b"", 0o640, 5_000_000_000)
    assert cf.copy_whole(str(src), *at(tmp_path / "dst"), "0badc0de")[0] == 0
    assert (tmp_path / "dst").read_bytes() == b"" and os.stat(tmp_path / "dst").st_mtime_ns == 5_000_000_000


def test_a_planted_temp_name_is_never_opened(tmp_path):
    """Names are unpredictable, and created with O_EXCL | O_NOFOLLOW even if one is guessed."""
    src = make(tmp_path / "src", b"fresh", 0o644, 5_000_000_000)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    names = {cf.temp_name("0badc0de") for _ in range(100)}
    assert len(names) == 100 and all(len(n) == 29 and cf.is_temp_of(n, "0badc0de") for n in names)
    planted = cf.temp_name("0badc0de")
    os.symlink(victim, tmp_path / planted)
    dfd, name = at(tmp_path / "dst")
    with pytest.raises(FileExistsError):
        cf.copy_file(str(src), dfd, name, planted)
    assert victim.read_bytes() == b"precious" and os.readlink(tmp_path / planted) == str(victim)
    cf.copy_whole(str(src), dfd, name, "0badc0de")
    assert (tmp_path / "dst").read_bytes() == b"fresh" and victim.read_bytes() == b"precious"


def test_a_name_of_255_bytes_copies(tmp_path):
    src = make(tmp_path / ("s" * 255), b"long", 0o644, 5_000_000_000)
    dst = tmp_path / "d"
    dst.mkdir()
    cf.copy_whole(str(src), *at(dst / ("d" * 255)), "0badc0de")
    cf.copy_file(str(src), *at(dst / ("e" * 255)), cf.temp_name("0badc0de"))
    assert (dst / ("d" * 255)).read_bytes() == b"long" == (dst / ("e" * 255)).read_bytes()


@pytest.mark.parametrize("large", [False, True])
def test_a_source_that_keeps_changing_is_refused_and_nothing_is_kept(tmp_path, large):
    src = make(tmp_path / "src", os.urandom(300_000), 0o644, 5_000_000_000)
    dfd, name = at(tmp_path / "dst")
    grow = lambda *_: open(src, "ab").write(b"more")  # noqa: E731

    if large:
        with pytest.raises(cf.SourceChanged):
            cf.copy_file(str(src), dfd, name, cf.temp_name("0badc0de"), chunk=64 * 1024, on_chunk=grow,
                         verify=True)
    else:
        real = cf._small_copy

        def torn(src_fd, dst_fd, count):
            grow()
            return real(src_fd, dst_fd, count)
        cf._small_copy = torn
        try:
            with pytest.raises(cf.SourceChanged):
                cf.copy_whole(str(src), dfd, name, "0badc0de")
        finally:
            cf._small_copy = real
    assert sorted(os.listdir(tmp_path)) == ["src"]


def test_a_source_that_changed_once_is_copied_again_whole(tmp_path):
    data = os.urandom(300_000)
    src = make(tmp_path / "src", data, 0o644, 5_000_000_000)
    dfd, name = at(tmp_path / "dst")
    calls = []

    def truncate_once(pos, n):
        if not calls:
            os.truncate(src, 100_000)
        calls.append(pos)
    n, _ = cf.copy_file(str(src), dfd, name, cf.temp_name("0badc0de"), chunk=64 * 1024, on_chunk=truncate_once)
    assert n == 100_000 and (tmp_path / "dst").read_bytes() == data[:100_000]
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]


def test_without_replace_an_existing_destination_is_left_alone_and_no_temp_remains(tmp_path):
    src = make(tmp_path / "src", b"new", 0o644, 5_000_000_000)
    dst = tmp_path / "dst"
    dst.write_bytes(b"there first")
    with pytest.raises(FileExistsError):
        cf.copy_whole(str(src), *at(dst), "0badc0de", replace=False)
    assert dst.read_bytes() == b"there first"
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]
    cf.copy_whole(str(src), *at(dst), "0badc0de", replace=True)
    assert dst.read_bytes() == b"new"


def test_rename_into_never_replaces_a_symlink_or_a_dangling_one(tmp_path):
    os.symlink("/nonexistent", tmp_path / "dangling")
    tmp = tmp_path / "tmp"
    tmp.write_text("x")
    with pytest.raises(FileExistsError):
        cf.rename_into(*at(tmp), *at(tmp_path / "dangling"), replace=False)
    assert os.readlink(tmp_path / "dangling") == "/nonexistent" and tmp.exists()
    cf.rename_into(*at(tmp), *at(tmp_path / "free"), replace=False)
    assert (tmp_path / "free").read_text() == "x" and not tmp.exists()


def test_a_vanished_source_raises_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        cf.copy_whole(str(tmp_path / "gone"), *at(tmp_path / "dst"), "0badc0de")
    assert os.listdir(tmp_path) == []
