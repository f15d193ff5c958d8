"""Thumbnail writes (sidecars in the library data folder, freedesktop thumbnails in
$XDG_CACHE_HOME/thumbnails) never follow a symlink planted below their root: a
folder swapped for a symlink fails the write, a planted temporary name is never
written through, and nothing outside changes."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from sdjobs.imaging import freedesktop as fd
from sdjobs.jobs.thumbs.worker import _write_atomic, sweep_temps


def manifest(root) -> dict:
    out = {}
    for d, dirs, names in os.walk(root):
        for n in dirs + names:
            p = os.path.join(d, n)
            st = os.lstat(p)
            data = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else None
            out[p] = (st.st_mode, st.st_ino, data)
    return out


@pytest.fixture
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir()
    (d / "precious").write_bytes(b"keep me")
    return d


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


def test_a_sidecar_folder_swapped_for_a_symlink_fails_the_write(tmp_path, outside):
    data_dir = tmp_path / "library-data"
    (data_dir / "thumbs").mkdir(parents=True)
    os.symlink(outside, data_dir / "thumbs" / "ab")
    before = manifest(outside)
    with pytest.raises(OSError):
        _write_atomic(str(data_dir / "thumbs" / "ab" / "abcd-256.webp"), b"sidecar", str(data_dir))
    assert manifest(outside) == before


def test_a_planted_temporary_sidecar_name_is_not_written_through(tmp_path, outside):
    """The old temporary name, .NAME.PID.tmp, could be guessed: a symlink planted
    there made the write land on its target."""
    data_dir = tmp_path / "library-data"
    shard = data_dir / "thumbs" / "ab"
    shard.mkdir(parents=True)
    os.symlink(outside / "precious", shard / f".abcd-256.webp.{os.getpid()}.tmp")
    before = manifest(outside)
    _write_atomic(str(shard / "abcd-256.webp"), b"sidecar", str(data_dir))
    assert (shard / "abcd-256.webp").read_bytes() == b"sidecar"
    assert manifest(outside) == before


def test_sidecars_and_the_sweep_of_dead_workers_temporaries(tmp_path):
    data_dir = tmp_path / "library-data"
    _write_atomic(str(data_dir / "thumbs" / "cd" / "cdef-256.webp"), b"one", str(data_dir))
    assert (data_dir / "thumbs" / "cd" / "cdef-256.webp").read_bytes() == b"one"
    assert oct((data_dir / "thumbs" / "cd").stat().st_mode & 0o777) == "0o700"
    (data_dir / "thumbs" / "cd" / ".cdef-256.webp.0123abcd.999999999.tmp").write_bytes(b"left by a dead pid")
    assert sweep_temps(str(data_dir)) == 1
    assert os.listdir(data_dir / "thumbs" / "cd") == ["cdef-256.webp"]


@pytest.mark.parametrize("swapped", ["normal", "fail"])
def test_a_freedesktop_folder_swapped_for_a_symlink_fails_the_write(tmp_path, monkeypatch, outside, swapped):
    """Below the thumbnails root (which is the user's and may be a symlink on purpose)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    (cache / "thumbnails").mkdir(parents=True)
    os.symlink(outside, cache / "thumbnails" / swapped)
    src = tmp_path / "pic.png"
    src.write_bytes(png())
    before = manifest(outside)
    with pytest.raises(OSError):
        if swapped == "normal":
            fd.write_thumbnail(src, png(), "normal", src.stat().st_mtime)
        else:
            fd.write_failure(src, src.stat().st_mtime, "1.0")
    assert manifest(outside) == before


def test_freedesktop_writes_still_land_in_place(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "pic.png"
    src.write_bytes(png())
    target = fd.write_thumbnail(src, png(), "normal", src.stat().st_mtime)
    assert target == fd.thumbnail_path(src, "normal") and fd.is_up_to_date(src)
    assert oct(os.stat(target.parent).st_mode & 0o777) == "0o700"
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    assert sorted(os.listdir(target.parent)) == [target.name]
