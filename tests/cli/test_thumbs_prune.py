"""`sdjobs thumbs prune`: sidecars no file refers to go (with --dry-run and --json), those of
images still there stay, a disk that is not mounted is not mistaken for deleted images, and
nothing outside the library's thumbnails folder is touched."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from PIL import Image


def jpeg(path: Path, shade: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (120, 80), (shade, 255 - shade, 90)).save(path, "JPEG")
    return path


def sidecars(lib) -> set[str]:
    root = lib.parent / "library-data" / "thumbs"
    return {str(p) for p in root.rglob("*") if p.is_file()}


def test_thumbs_prune(cli, lib, tmp_path):
    photos = tmp_path / "photos"
    keep = jpeg(photos / "keep.jpg", 10)
    jpeg(photos / "copy-of-keep.jpg", 10)           # same content: one sidecar for both
    by_sdjobs = jpeg(photos / "deleted-by-sdjobs.jpg", 80)
    by_hand = jpeg(photos / "deleted-by-hand.jpg", 150)
    unplugged = jpeg(tmp_path / "usb" / "trip" / "far.jpg", 220)
    assert cli("thumbs", photos, tmp_path / "usb", "--size", "64").returncode == 0
    before = sidecars(lib)
    assert len(sidecars(lib)) == 4
    data = lib.parent / "library-data"
    crash_left = data / "thumbs" / "zz" / "zz-leftover-64.webp"   # written, never recorded: a crash
    crash_left.parent.mkdir(parents=True)
    crash_left.write_bytes(b"old")
    os.utime(crash_left, (time.time() - 7200, time.time() - 7200))
    being_written = data / "thumbs" / "zz" / "zz-fresh-64.webp"   # a thumbs job may record it any moment
    being_written.write_bytes(b"new")
    outside = tmp_path / "not-ours.webp"
    outside.write_bytes(b"x")

    moved = jpeg(photos / "to-move" / "moved.jpg", 40)
    assert cli("thumbs", photos / "to-move", "--size", "64").returncode == 0
    before = sidecars(lib)
    assert cli("copy", "--move", photos / "to-move", tmp_path / "elsewhere").returncode == 0  # not indexed there
    moved = tmp_path / "elsewhere" / "moved.jpg"
    assert cli("delete", by_sdjobs).returncode == 0
    os.unlink(by_hand)
    shutil.rmtree(tmp_path / "usb")  # like a disk that is not mounted: its folder is missing

    dry = cli.json("thumbs", "prune", "--dry-run")
    assert dry["dry_run"] and dry["thumbnails"] == 2 and dry["files"] == 3 and dry["sources"] == 1
    assert dry["kept_unreachable"] == 1
    assert sidecars(lib) == before | {str(crash_left), str(being_written)}  # a dry run changes nothing
    listed = cli("thumbs", "prune", "--dry-run", check=True)
    assert str(crash_left) in listed.stdout.splitlines() and "would remove 3 sidecar file(s)" in listed.stderr

    done = cli.json("thumbs", "prune")
    assert (done["thumbnails"], done["files"], done["kept_unreachable"]) == (2, 3, 1)
    left = sidecars(lib)
    assert str(crash_left) not in left and str(being_written) in left and outside.exists()
    shown = {row["path"]: row for row in cli.json("thumbs", "ls")}
    assert set(shown) == {str(keep), str(photos / "copy-of-keep.jpg"), str(unplugged), str(moved)}
    for row in shown.values():  # every sidecar still listed is there
        assert all(Path(t["path"]).exists() for t in row["thumbnails"]), row
    assert cli.json("thumbs", "prune") == {**done, "sources": 0, "thumbnails": 0, "files": 0, "bytes": 0,
                                           "sidecars": []}

    gone = cli.json("thumbs", "prune", "--missing-folders")  # the disk is gone for good
    assert (gone["sources"], gone["thumbnails"], gone["files"]) == (1, 1, 1)
    assert set(r["path"] for r in cli.json("thumbs", "ls")) == {str(keep), str(photos / "copy-of-keep.jpg"), str(moved)}
