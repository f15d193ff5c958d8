"""thumbs, one image at a time: what the job's worker does with real files
(sizes, aspect, no upscaling, EXIF rotation, transparency, decode-once, bad
input, the huge-image lock). The job as a whole is in test_thumbs_job.py."""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from PIL import Image, ImageFile
from thumbs_images import (bad_header_jpeg, bomb_png, corrupt_jpeg, half_transparent_png, jpeg, marked_jpeg, photo, save,
                           truncated_copy)

from sdjobs.core.errors import BadInput
from sdjobs.fs.hashing import cas_id
from sdjobs.jobs.thumbs import worker as w
from sdjobs.jobs.thumbs.job import parse_variant


def task(path: Path, data: Path, sizes=(("256", 256),), fmt="webp", *, regenerate=True, fd_dirs=(), named=True,
         cas=None) -> w.Task:
    st = os.stat(path)
    return w.Task(str(path), st.st_mtime_ns, st.st_size, cas, tuple(sizes), fmt, 80, str(data), regenerate,
                  tuple(fd_dirs), "0.1.0", named)


def opened(data: Path, outcome: w.Outcome, name: str) -> Image.Image:
    rel = {t[0]: t[4] for t in outcome.thumbs}[name]
    im = Image.open(data / rel)
    im.load()
    return im


def test_parse_variant():
    assert parse_variant("256") == ("256", 256)
    assert parse_variant("grid@2x") == ("grid@2x", 512)
    assert parse_variant("detail") == ("detail", 1024)
    assert parse_variant("hero=1600") == ("hero", 1600)
    for bad in ("0", "big", "x=0", "a/b=10", "99999", "=5"):
        with pytest.raises(BadInput):
            parse_variant(bad)


def test_sizes_aspect_and_no_upscaling(tmp_path):
    src = jpeg(tmp_path / "wide.jpg", (600, 300))
    data = tmp_path / "data"
    out = w.run(task(src, data, (("small", 128), ("256", 256), ("detail", 1024))))
    assert out.kind == "rendered", out.reason
    dims = {name: (wd, ht) for name, _px, wd, ht, _rel in out.thumbs}
    assert dims == {"small": (128, 64), "256": (256, 128), "detail": (600, 300)}  # 1024 would upscale
    cas = cas_id(str(src), src.stat().st_size)
    assert out.cas_id == cas
    for name, _px, wd, ht, rel in out.thumbs:
        assert rel == f"thumbs/{cas[:2]}/{cas}-{name}.webp"
        im = opened(data, out, name)
        assert im.format == "WEBP" and im.size == (wd, ht)
    assert not [p for p in (data / "thumbs" / cas[:2]).iterdir() if p.name.endswith(".tmp")]


def test_portrait_keeps_its_aspect(tmp_path):
    src = jpeg(tmp_path / "tall.jpg", (300, 900))
    out = w.run(task(src, tmp_path / "d", (("256", 256),), "jpeg"))
    assert [(t[2], t[3]) for t in out.thumbs] == [(85, 256)]
    assert opened(tmp_path / "d", out, "256").format == "JPEG"


@pytest.mark.parametrize("orientation, red_corner", [(6, "top-right"), (8, "bottom-left"), (3, "bottom-right"),
                                                     (1, "top-left")])
def test_exif_orientation_is_applied(tmp_path, orientation, red_corner):
    src = marked_jpeg(tmp_path / "o.jpg", (400, 200), orientation)
    out = w.run(task(src, tmp_path / "d", (("256", 256),), "png"))
    im = opened(tmp_path / "d", out, "256").convert("RGB")
    assert im.size == ((128, 256) if orientation in (6, 8) else (256, 128))
    wd, ht = im.size
    corners = {"top-left": (3, 3), "top-right": (wd - 4, 3), "bottom-left": (3, ht - 4),
               "bottom-right": (wd - 4, ht - 4)}
    for corner, xy in corners.items():
        r, g, b = im.getpixel(xy)
        is_red = r > 200 and g < 60 and b < 60
        assert is_red == (corner == red_corner), (corner, im.getpixel(xy))


@pytest.mark.parametrize("fmt", ["webp", "png", "jpeg"])
def test_transparency_kept_where_the_format_has_it(tmp_path, fmt):
    src = half_transparent_png(tmp_path / "alpha.png", (200, 100))
    out = w.run(task(src, tmp_path / "d", (("256", 256), ("64", 64)), fmt))
    im = opened(tmp_path / "d", out, "256")
    assert im.size == (200, 100)  # not upscaled to 256
    if fmt == "jpeg":
        assert im.mode == "RGB"
        assert min(im.getpixel((170, 50))) > 240  # flattened onto white
    else:
        rgba = im.convert("RGBA")
        assert im.mode == "RGBA"
        assert rgba.getpixel((170, 50))[3] == 0
        assert rgba.getpixel((30, 50))[3] == 255 and rgba.getpixel((30, 50))[0] > 200
    assert opened(tmp_path / "d", out, "64").size == (64, 32)


def test_other_source_formats(tmp_path):
    frames = [photo((120, 80), seed=k).convert("P") for k in range(3)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=50, loop=0)
    files = [gif, save(tmp_path / "a.bmp", photo((300, 150)), "BMP"),
             save(tmp_path / "a.tif", photo((150, 300)), "TIFF"),
             save(tmp_path / "a.webp", photo((512, 512)), "WEBP"),
             save(tmp_path / "grey16.png", Image.linear_gradient("L").convert("I;16").resize((300, 100)), "PNG")]
    expected = {"anim.gif": (120, 80), "a.bmp": (256, 128), "a.tif": (128, 256), "a.webp": (256, 256),
                "grey16.png": (256, 85)}
    for f in files:
        out = w.run(task(f, tmp_path / "d"))
        assert out.kind == "rendered", (f, out.reason)
        assert (out.thumbs[0][2], out.thumbs[0][3]) == expected[f.name]


@pytest.fixture
def decodes(monkeypatch):
    """Count real decodes (ImageFile.load) and opens (Image.open) per file name."""
    log = {"load": [], "open": []}
    real_load, real_open = ImageFile.ImageFile.load, Image.open

    def load(self):
        if getattr(self, "filename", None) and self.tile:  # pixels still to decode (a loaded image has none)
            log["load"].append(os.path.basename(self.filename))
        return real_load(self)

    def open_(fp, *a, **kw):
        log["open"].append(os.path.basename(str(fp)) if isinstance(fp, (str, os.PathLike)) else None)
        return real_open(fp, *a, **kw)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(Image, "open", open_)
    return log


def test_one_decode_for_all_variants_and_freedesktop(tmp_path, monkeypatch, decodes):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = jpeg(tmp_path / "src.jpg", (1600, 1200))
    sizes = (("256", 256), ("512", 512), ("1024", 1024))
    out = w.run(task(src, tmp_path / "d", sizes, fd_dirs=("normal", "large", "x-large", "xx-large")))
    assert out.kind == "rendered" and out.fd_written == 4
    assert decodes["load"].count("src.jpg") == 1
    # One open: the huge-image check sees the drafted size from the decoding open itself.
    assert decodes["open"].count("src.jpg") == 1
    # The sidecars are encoded from the rendered pixels, not from re-read freedesktop PNGs.
    assert None not in decodes["open"]
    for _name, px, width, height, rel in out.thumbs:
        with Image.open(tmp_path / "d" / rel) as im:
            assert im.format == "WEBP" and im.size == (width, height) and max(im.size) == px
    for size_dir, px in (("normal", 128), ("large", 256), ("x-large", 512), ("xx-large", 1024)):
        (png,) = (tmp_path / "cache" / "thumbnails" / size_dir).glob("*.png")
        with Image.open(png) as im:
            assert im.format == "PNG" and max(im.size) == px
    decodes["load"].clear()
    out = w.run(task(src, tmp_path / "d", sizes))
    assert decodes["load"].count("src.jpg") == 1 and len(out.thumbs) == 3


def test_existing_sidecars_are_reused_without_decoding(tmp_path, decodes):
    src = jpeg(tmp_path / "src.jpg", (640, 480))
    twin = tmp_path / "twin.jpg"
    shutil.copyfile(src, twin)
    first = w.run(task(src, tmp_path / "d", regenerate=False))
    second = w.run(task(twin, tmp_path / "d", regenerate=False))
    assert first.kind == "rendered" and second.kind == "existed"
    assert second.cas_id == first.cas_id and second.thumbs == first.thumbs
    assert decodes["load"].count("twin.jpg") == 0


@pytest.mark.parametrize("make, named, kind, reason", [
    (lambda d, ok: truncated_copy(ok, d / "trunc.jpg"), True, "failed", "truncated"),
    (lambda d, ok: corrupt_jpeg(d / "corrupt.jpg", ok), True, "failed", "JPEG"),
    (lambda d, ok: bad_header_jpeg(d / "header.jpg", ok), True, "failed", "JPEG"),
    (lambda d, ok: (d / "fake.jpg").write_text("just text") and d / "fake.jpg", True, "failed", "mislabelled"),
    (lambda d, ok: bomb_png(d / "bomb.png"), True, "failed", "decompression bomb"),
    (lambda d, ok: (d / "notes").write_bytes(b"\x00\x01 not an image") and d / "notes", False, "not-image", None),
])
def test_bad_input(tmp_path, make, named, kind, reason):
    ok = jpeg(tmp_path / "ok.jpg", (400, 300))
    src = make(tmp_path, ok)
    out = w.run(task(src, tmp_path / "d", named=named))
    assert out.kind == kind
    if reason:
        assert reason in out.reason
    assert out.thumbs == ()


def test_a_vanished_file_is_unreadable(tmp_path):
    src = jpeg(tmp_path / "gone.jpg", (100, 100))
    t = task(src, tmp_path / "d")
    src.unlink()
    out = w.run(t)
    assert out.kind == "unreadable" and "No such file" in out.reason


def test_huge_check_sees_the_jpeg_draft_scale(tmp_path, monkeypatch):
    """The lock is taken for what is decoded: a JPEG at 1/2, 1/4 or 1/8 scale
    when that still covers the largest variant, anything else at full size."""
    seen = []
    real = w._HugeGuard.__call__

    def spy(self, pixels):
        seen.append(pixels)
        return real(self, pixels)

    monkeypatch.setattr(w._HugeGuard, "__call__", spy)
    big = jpeg(tmp_path / "big.jpg", (2000, 1600))
    png = save(tmp_path / "big.png", Image.new("RGB", (2000, 1600)), "PNG")
    cases = ((big, (("s", 128),)), (big, (("s", 256),)), (big, (("a", 256), ("b", 1024))), (png, (("s", 256),)))
    for src, sizes in cases:
        assert w.run(task(src, tmp_path / "d", sizes)).kind == "rendered"
    assert seen == [250 * 200,      # 1/8 still covers 128
                    500 * 400,      # 1/8 would be 250 < 256: 1/4
                    2000 * 1600,    # 1/2 would be 1000 < 1024
                    2000 * 1600]    # no reduced decode for PNG


def test_huge_images_wait_for_the_library_lock(tmp_path, monkeypatch):
    """At most one huge decode at a time: a second one waits for the lock."""
    monkeypatch.setattr(w, "HUGE_PIXELS", 100_000)
    data = tmp_path / "d"
    (data / "thumbs").mkdir(parents=True)
    huge = save(tmp_path / "huge.png", photo((800, 600)), "PNG")        # 480,000 px: "huge" here
    small = save(tmp_path / "small.png", photo((200, 150)), "PNG")
    holder = os.open(data / "thumbs" / w.HUGE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as if another worker decoded a huge image
    try:
        assert w.run(task(small, data)).kind == "rendered"  # small images do not wait
        results = []
        th = threading.Thread(target=lambda: results.append(w.run(task(huge, data))))
        th.start()
        time.sleep(0.5)
        assert not results, "rendered a huge image while another held the lock"
    finally:
        os.close(holder)
    th.join(30)
    assert results and results[0].kind == "rendered"
