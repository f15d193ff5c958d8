"""render_variants against real images made with Pillow in tmp_path."""

from __future__ import annotations

import io
import math
import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFile, ImageStat

from sdjobs.imaging import render
from sdjobs.imaging.render import ImageRejected, NotAnImage, Rendered, fit_within, render_variants

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def _save(im: Image.Image, path: Path, fmt: str | None = None, **kw: object) -> Path:
    im.save(path, fmt, **kw)
    return path


def _photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Noisy RGB image: compresses like a photo, so truncation bites mid-scan."""
    rng = random.Random(seed)
    noise = Image.frombytes("L", (size[0] // 4, size[1] // 4), rng.randbytes(size[0] * size[1] // 16))
    return Image.merge("RGB", [noise.resize(size)] * 3)


def _halves(size: tuple[int, int], left: tuple[int, ...], right: tuple[int, ...], mode: str = "RGB") -> Image.Image:
    im = Image.new(mode, size, right)
    im.paste(left, (0, 0, size[0] // 2, size[1]))
    return im


def _decoded(r: Rendered) -> Image.Image:
    im = Image.open(io.BytesIO(r.data))
    im.load()
    return im


def _px(im: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = im.getpixel(xy)
    assert isinstance(value, (int, tuple))
    return value if isinstance(value, tuple) else (value,)


def _close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=False))


# -- geometry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "size", "expected"),
    [((1200, 800), 256, (256, 171)), ((800, 1200), 256, (171, 256)), ((500, 500), 256, (256, 256)),
     ((3000, 10), 256, (256, 1)), ((200, 100), 256, (200, 100)), ((256, 100), 256, (256, 100))],
)
def test_fit_within(src: tuple[int, int], size: int, expected: tuple[int, int]) -> None:
    assert fit_within(*src, size) == expected


@pytest.mark.parametrize("fmt", ["webp", "jpeg", "png"])
@pytest.mark.parametrize(
    ("src", "dims"),
    [((1200, 800), {256: (256, 171), 100: (100, 67)}),
     ((800, 1200), {256: (171, 256), 100: (67, 100)}),
     ((600, 600), {256: (256, 256), 100: (100, 100)})],
    ids=["landscape", "portrait", "square"],
)
def test_sizes_and_aspect(tmp_path: Path, fmt: str, src: tuple[int, int], dims: dict[int, tuple[int, int]]) -> None:
    path = _save(_photo(src), tmp_path / "src.jpg", quality=90)
    out = render_variants(path, [256, 100], fmt, 80)  # type: ignore[arg-type]
    assert [r.size for r in out] == [256, 100]
    for r in out:
        assert (r.width, r.height) == dims[r.size]
        assert r.format == fmt
        im = _decoded(r)
        assert im.size == dims[r.size]
        assert im.format == {"webp": "WEBP", "jpeg": "JPEG", "png": "PNG"}[fmt]


def test_never_upscales(tmp_path: Path) -> None:
    path = _save(_photo((200, 120)), tmp_path / "small.png")
    out = render_variants(path, [1024, 512, 256, 150], "png", 80)
    assert [(r.size, r.width, r.height) for r in out] == [
        (1024, 200, 120), (512, 200, 120), (256, 200, 120), (150, 150, 90)]
    assert out[0].data is out[1].data  # identical variants are encoded once
    assert _decoded(out[0]).size == (200, 120)


def test_order_follows_request_and_drops_duplicates(tmp_path: Path) -> None:
    path = _save(_photo((800, 600)), tmp_path / "a.jpg")
    out = render_variants(path, [128, 512, 128, 256], "jpeg", 80)
    assert [r.size for r in out] == [128, 512, 256]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"fmt": "gif"}, "fmt"), ({"quality": 0}, "quality"), ({"quality": 101}, "quality"),
     ({"sizes": []}, "sizes"), ({"sizes": [0]}, "sizes"), ({"sizes": [2.5]}, "sizes")],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    path = _save(_photo((64, 64)), tmp_path / "a.png")
    args: dict[str, object] = {"sizes": [64], "fmt": "webp", "quality": 80} | kwargs
    with pytest.raises(ValueError, match=match):
        render_variants(path, **args)  # type: ignore[arg-type]


# -- EXIF orientation ----------------------------------------------------------------


def _oriented_jpeg(path: Path, size: tuple[int, int], orientation: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(_halves(size, RED, BLUE), path, quality=95, exif=exif.tobytes())


@pytest.mark.parametrize(
    ("orientation", "top", "bottom"), [(6, RED, BLUE), (8, BLUE, RED)],
)
@pytest.mark.parametrize("size", [1000, 100], ids=["full-decode", "draft"])
def test_exif_orientation_rotates(tmp_path: Path, orientation: int, top: tuple[int, ...],
                                  bottom: tuple[int, ...], size: int) -> None:
    # Stored 1600x800, left half red. Tag 6 turns it clockwise (left -> top),
    # tag 8 counter-clockwise (left -> bottom); either way it stands upright.
    path = _oriented_jpeg(tmp_path / f"o{orientation}.jpg", (1600, 800), orientation)
    (r,) = render_variants(path, [size], "png", 90)
    expected = (size // 2, size)
    assert (r.width, r.height) == expected
    im = _decoded(r).convert("RGB")
    assert im.size == expected
    assert _close(_px(im, (expected[0] // 2, expected[1] // 8)), top)
    assert _close(_px(im, (expected[0] // 2, expected[1] * 7 // 8)), bottom)


def test_orientation_3_flips(tmp_path: Path) -> None:
    path = _oriented_jpeg(tmp_path / "o3.jpg", (400, 200), 3)
    (r,) = render_variants(path, [200], "png", 90)
    im = _decoded(r).convert("RGB")
    assert im.size == (200, 100)
    assert _close(_px(im, (10, 50)), BLUE) and _close(_px(im, (190, 50)), RED)


# -- decode once, draft mode -------------------------------------------------------


@pytest.fixture
def decode_log(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Instrument (not replace) Pillow: log opens, real decodes and resizes."""
    log: dict[str, list[Any]] = {"open": [], "decode": [], "resize": []}
    real_open, real_load, real_resize = Image.open, ImageFile.ImageFile.load, Image.Image.resize

    def counting_open(fp, *a, **kw):  # type: ignore[no-untyped-def]
        log["open"].append(fp)
        return real_open(fp, *a, **kw)

    def counting_load(self):  # type: ignore[no-untyped-def]
        if self.tile:  # a call that will actually run the decoder
            log["decode"].append(self.size)
        return real_load(self)

    def logging_resize(self, size, *a, **kw):  # type: ignore[no-untyped-def]
        log["resize"].append((self.size, tuple(size)))
        return real_resize(self, size, *a, **kw)

    monkeypatch.setattr(render.Image, "open", counting_open)
    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    monkeypatch.setattr(Image.Image, "resize", logging_resize)
    return log


def _reset(log: dict[str, list[Any]]) -> None:
    for entries in log.values():
        entries.clear()


def test_decodes_once_and_derives_from_largest(tmp_path: Path, decode_log: dict[str, list[Any]]) -> None:
    path = _save(_photo((4000, 3000)), tmp_path / "big.jpg", quality=90)
    _reset(decode_log)
    out = render_variants(path, [256, 512, 1024], "webp", 80)
    assert [(r.width, r.height) for r in out] == [(256, 192), (512, 384), (1024, 768)]
    assert decode_log["open"] == [path]
    # One decode, DCT-scaled to 3/8: the smallest scale still >= 1024.
    assert decode_log["decode"] == [(1500, 1125)]
    # The largest from the decode, then each smaller one from the one before it.
    assert decode_log["resize"] == [((1500, 1125), (1024, 768)), ((1024, 768), (512, 384)),
                                    ((512, 384), (256, 192))]


@pytest.mark.parametrize(
    ("src", "size", "decoded"),
    [((4000, 3000), 256, (500, 375)), ((4000, 3000), 600, (1000, 750)), ((1920, 1080), 256, (480, 270)),
     ((1920, 1080), 1024, (1920, 1080)), ((2000, 1500), 800, (1000, 750)),
     # 3/8 when it covers the size and leaves at least 1.4x to resize, for sizes from 512 up
     ((4000, 3000), 1024, (1500, 1125)), ((3823, 2867), 1024, (1434, 1076)), ((3600, 2700), 1024, (1800, 1350)),
     ((4000, 3000), 1500, (2000, 1500)), ((1000, 750), 256, (500, 375))],
)
def test_draft_scale_keeps_target_reachable(tmp_path: Path, decode_log: dict[str, list[Any]],
                                             src: tuple[int, int], size: int, decoded: tuple[int, int]) -> None:
    path = _save(_photo(src), tmp_path / "d.jpg", quality=85)
    _reset(decode_log)
    (r,) = render_variants(path, [size], "jpeg", 80)
    assert decode_log["decode"] == [decoded]
    assert max(decoded) >= size == max(r.width, r.height)


def test_draft_with_rotation_requests_enough_pixels(tmp_path: Path, decode_log: dict[str, list[Any]]) -> None:
    # Stored 3000x4000 portrait pixels, tag 6: upright 4000x3000. The draft
    # request is made in stored orientation and must still cover 1024.
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(_photo((3000, 4000)), tmp_path / "r.jpg", quality=85, exif=exif.tobytes())
    _reset(decode_log)
    (r,) = render_variants(path, [1024], "jpeg", 80)
    assert decode_log["decode"] == [(1125, 1500)]
    assert (r.width, r.height) == (1024, 768)


def _soft(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Smooth colour blobs with a sharp edge: detail a thumbnail keeps."""
    rng = random.Random(seed)
    small = (max(1, size[0] // 64), max(1, size[1] // 64))
    bands = [Image.frombytes("L", small, rng.randbytes(small[0] * small[1])).resize(size, Image.Resampling.BICUBIC)
             for _ in range(3)]
    im = Image.merge("RGB", bands)
    im.paste((255, 255, 255), (size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2))
    return im


def _psnr(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    rms = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).rms
    mse = sum(v * v for v in rms) / len(rms)
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def _reference(path: Path, size: int) -> Image.Image:
    """Full decode, LANCZOS straight to the size: what a thumbnail should look like."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        return im.resize(fit_within(*im.size, size), Image.Resampling.LANCZOS)


@pytest.mark.parametrize(
    ("mode", "options"),
    [("RGB", {}), ("RGB", {"progressive": True}), ("RGB", {"subsampling": 0}), ("L", {}), ("CMYK", {})],
    ids=["baseline-420", "progressive", "444", "grey", "cmyk"],
)
def test_three_eighths_decode_has_the_right_pixels(tmp_path: Path, decode_log: dict[str, list[Any]], mode: str,
                                                    options: dict[str, object]) -> None:
    # The 3/8 decode hands libjpeg a tile sized by its own rounding; a wrong
    # size or scale would show up as garbage or a shifted picture here.
    path = _save(_soft((4000, 3000)).convert(mode), tmp_path / "soft.jpg", quality=92, **options)
    _reset(decode_log)
    (r,) = render_variants(path, [1024], "png", 80)
    assert decode_log["decode"] == [(1500, 1125)]
    assert _psnr(_decoded(r), _reference(path, 1024)) > 42  # a 2 px shift scores 25


def _checker(size: tuple[int, int], square: int = 48) -> Image.Image:
    im = Image.new("RGB", size, (20, 20, 20))
    draw = ImageDraw.Draw(im)
    for y in range(0, size[1], square):
        for x in range((y // square) % 2 * square, size[0], 2 * square):
            draw.rectangle((x, y, x + square - 1, y + square - 1), fill=(235, 235, 235))
    return im


@pytest.mark.parametrize(("src", "size"), [((3823, 2867), 1024), ((2049, 1537), 1024), ((1023, 767), 256)],
                         ids=["3/8", "1/2", "1/2-small"])
def test_scaled_decode_of_odd_sizes_does_not_drift(tmp_path: Path, src: tuple[int, int], size: int) -> None:
    # A scaled decode rounds the last partial block up (2867 rows at 3/8 are
    # 1075.1 -> 1076): resizing all of it would stretch the picture by up to
    # half a decoded pixel towards that edge (about 21 dB here, not 28+).
    path = _save(_checker(src), tmp_path / "c.jpg", quality=95)
    (r,) = render_variants(path, [size], "png", 80)
    assert _psnr(_decoded(r), _reference(path, size)) > 27


@pytest.mark.parametrize(
    ("src", "sizes"),
    [((4000, 2667), [1024, 512, 256]), ((2667, 4000), [256, 512, 1024]), ((3001, 1999), [1000, 333, 128]),
     ((1920, 1080), [1024, 512, 256, 100]), ((1030, 770), [1024, 512, 256]), ((700, 500), [1024, 512, 256])],
)
def test_cascade_gives_the_sizes_of_a_direct_fit(tmp_path: Path, src: tuple[int, int], sizes: list[int]) -> None:
    # Each smaller variant comes from the one before it (box halvings and a
    # short filtered remainder), yet its size is the one fitted to the source.
    path = _save(_photo(src), tmp_path / "c.jpg", quality=85)
    out = render_variants(path, sizes, "png", 80)
    for r in out:
        assert (r.width, r.height) == fit_within(*src, r.size) == _decoded(r).size


@pytest.mark.parametrize("sizes", [[256, 512, 1024], [256, 1024]])
def test_cascaded_variant_looks_like_a_direct_one(tmp_path: Path, sizes: list[int]) -> None:
    path = _save(_soft((4000, 3000), seed=3), tmp_path / "s.jpg", quality=92)
    (alone,) = render_variants(path, [256], "png", 80)
    cascaded = render_variants(path, sizes, "png", 80)[0]
    ref = _reference(path, 256)
    assert _psnr(_decoded(cascaded), _decoded(alone)) > 42
    assert _psnr(_decoded(cascaded), ref) >= _psnr(_decoded(alone), ref) - 1.0


# -- alpha, palettes, other formats ----------------------------------------------------


@pytest.fixture
def half_transparent(tmp_path: Path) -> Path:
    return _save(_halves((400, 300), (0, 0, 0, 0), (*RED, 255), "RGBA"), tmp_path / "alpha.png")


@pytest.mark.parametrize("fmt", ["webp", "png"])
def test_alpha_kept(half_transparent: Path, fmt: str) -> None:
    (r,) = render_variants(half_transparent, [200], fmt, 90)  # type: ignore[arg-type]
    im = _decoded(r)
    assert im.mode == "RGBA"
    assert _px(im, (20, 75))[3] == 0
    px = _px(im, (180, 75))
    assert px[3] == 255 and _close(px[:3], RED)


def test_alpha_flattened_on_white_for_jpeg(half_transparent: Path) -> None:
    (r,) = render_variants(half_transparent, [200], "jpeg", 90)
    im = _decoded(r)
    assert im.mode == "RGB"
    assert _close(_px(im, (20, 75)), (255, 255, 255), 8)
    assert _close(_px(im, (180, 75)), RED)


def test_gif_uses_first_frame_and_its_transparency(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (120, 80), RED), Image.new("RGB", (120, 80), BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    (r,) = render_variants(path, [60], "png", 80)
    assert (r.width, r.height) == (60, 40)
    assert _close(_px(_decoded(r).convert("RGB"), (30, 20)), RED)

    pal = Image.new("P", (40, 40), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0])
    pal.paste(1, (20, 0, 40, 40))
    _save(pal, tmp_path / "t.gif", transparency=0)
    (r,) = render_variants(tmp_path / "t.gif", [40], "webp", 90)
    im = _decoded(r)
    assert im.mode == "RGBA" and _px(im, (5, 20))[3] == 0 and _px(im, (35, 20))[3] == 255


@pytest.mark.parametrize(
    ("name", "fmt", "mode"),
    [("a.bmp", "BMP", "RGB"), ("a.tif", "TIFF", "RGB"), ("a.webp", "WEBP", "RGB"),
     ("cmyk.jpg", "JPEG", "CMYK"), ("grey.png", "PNG", "L"), ("a.ppm", "PPM", "RGB")],
)
def test_other_formats(tmp_path: Path, name: str, fmt: str, mode: str) -> None:
    path = _save(_photo((300, 200)).convert(mode), tmp_path / name, fmt)
    (r,) = render_variants(path, [150], "jpeg", 80)
    assert (r.width, r.height) == (150, 100)


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    im = Image.new("I;16", (100, 50), 1000)
    im.paste(60000, (50, 0, 100, 50))
    path = _save(im, tmp_path / "deep.png")
    (r,) = render_variants(path, [100], "png", 80)
    out = _decoded(r).convert("L")
    assert _px(out, (10, 25))[0] < 30 and _px(out, (90, 25))[0] > 225


# -- bad input -----------------------------------------------------------------------


def test_mislabelled_png_named_jpg_renders(tmp_path: Path) -> None:
    path = _save(_photo((300, 200)), tmp_path / "really_png.jpg", "PNG")
    (r,) = render_variants(path, [100], "webp", 80)
    assert (r.width, r.height) == (100, 67)


@pytest.mark.parametrize("content", [random.Random(3).randbytes(4096), b"hello, world\n" * 50, b""],
                         ids=["random", "text", "empty"])
def test_not_an_image(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.jpg"
    path.write_bytes(content)
    with pytest.raises(NotAnImage):
        render_variants(path, [128], "webp", 80)


def test_not_an_image_is_not_a_rejection() -> None:
    assert not issubclass(NotAnImage, ImageRejected) and not issubclass(ImageRejected, NotAnImage)


def test_hold_spans_the_decoded_raster_and_ends_on_errors(tmp_path: Path) -> None:
    import contextlib

    log: list[Any] = []

    @contextlib.contextmanager
    def hold(pixels: int):  # type: ignore[no-untyped-def]
        log.append(("enter", pixels))
        try:
            yield
        finally:
            log.append("exit")

    path = _save(_photo((1600, 1200)), tmp_path / "p.jpg", quality=90)
    out = render_variants(path, [100, 400], "webp", 80, hold=hold)
    assert [(r.width, r.height) for r in out] == [(100, 75), (400, 300)]
    assert log == [("enter", 400 * 300), "exit"]  # the 1/4 draft covers 400
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    log.clear()
    with pytest.raises(ImageRejected):
        render_variants(cut, [1600], "webp", 80, hold=hold)
    assert log == [("enter", 1600 * 1200), "exit"]


def test_truncated_jpeg_rejected_even_if_pillow_was_told_to_allow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = _save(_photo((1600, 1200)), tmp_path / "full.jpg", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for sizes in ([1600], [128]):  # full decode and draft decode
        with pytest.raises(ImageRejected, match="truncated"):
            render_variants(cut, sizes, "webp", 80)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored


def test_corrupt_jpeg_header_rejected(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + random.Random(5).randbytes(2000))
    with pytest.raises(ImageRejected):
        render_variants(path, [128], "webp", 80)


def test_corrupt_png_data_rejected(tmp_path: Path) -> None:
    good = _save(_photo((200, 200)), tmp_path / "g.png").read_bytes()
    idat = good.index(b"IDAT")
    bad = good[: idat + 40] + bytes(b ^ 0x5A for b in good[idat + 40 : idat + 400]) + good[idat + 400 :]
    path = tmp_path / "bad.png"
    path.write_bytes(bad)
    with pytest.raises(ImageRejected):
        render_variants(path, [100], "png", 80)


@pytest.mark.parametrize(("size", "kind"), [((40, 30), "warning"), ((100, 100), "error")])
def test_decompression_bomb_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     size: tuple[int, int], kind: str) -> None:
    path = _save(_photo(size), tmp_path / "bomb.png")
    # 1200 px is over the limit (Pillow warns), 10000 px is over twice it (Pillow raises).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageRejected, match="decompression bomb"):
        render_variants(path, [16], "webp", 80)


def test_missing_file_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        render_variants(tmp_path / "nope.jpg", [128], "webp", 80)


_PEAK_SCRIPT = """
import resource, sys
from sdjobs.imaging.render import render_variants
from PIL import PngImagePlugin  # noqa: F401 - plugin import is not the render's memory
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
render_variants(sys.argv[1], [256, 512, 1024], "webp", 80)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_peak_memory_is_about_one_full_decode(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = _save(_photo((4000, 3000)), tmp_path / "big.png", compress_level=1)
    full_decode_kib = 4000 * 3000 * 4 // 1024  # Pillow keeps RGB as 4 bytes a pixel
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(path)], cwd=root,
                          capture_output=True, text=True, check=True)
    grew_kib = int(proc.stdout.strip())
    # One decode plus the 2x-reduced intermediate is ~1.25x; two decodes would be >= 2x.
    assert grew_kib < 1.5 * full_decode_kib, (grew_kib, full_decode_kib)
