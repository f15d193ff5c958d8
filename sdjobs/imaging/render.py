"""Render thumbnail variants of one image file, decoding the source once.

``render_variants`` is a pure function of the file's bytes and its arguments:
no database, no UI, safe to run in a worker process. The pipeline is

1. open lazily and classify: not an image at all -> ``NotAnImage``;
2. for JPEG, ask libjpeg for a DCT-scaled decode (1/8, 1/4, 3/8, 1/2) that
   is still at least as large as the largest variant, then decode once with
   decompression-bomb warnings promoted to errors and truncation fatal;
3. normalise the pixel mode (alpha kept as RGBA, everything else RGB);
4. resize to the largest variant in *stored* orientation, then apply the EXIF
   orientation to that small image (cheaper than rotating the source);
5. make each smaller variant from the one before it (2x box halvings plus a
   short filtered remainder) and encode each.

``render_images`` stops after step 5's pixels, for a caller that needs one
size in two formats (the freedesktop PNGs beside webp sidecars); ``encode``
is the encoder both use.

One full-size raster is held per call (plus Pillow's short-lived working
copies while converting modes or premultiplying alpha), and it is released as
soon as the largest variant exists.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from os import PathLike
from contextlib import AbstractContextManager
from typing import Literal, cast
from collections.abc import Callable

from PIL import Image, ImageFile

from sdjobs.imaging.probe import sniff_format

__all__ = ["ImageRejected", "NotAnImage", "OutputFormat", "Rendered", "encode", "fit_within", "render_images",
           "render_variants"]

OutputFormat = Literal["webp", "jpeg", "png"]
_FORMATS: frozenset[str] = frozenset({"webp", "jpeg", "png"})

# Resampling: integer box pre-reduction (Image.reduce, nearly free) while the
# image is >= REDUCING_GAP times the target, then one filtered step. HAMMING
# looks the same as LANCZOS at these ratios (side-by-side against vips in
# bench/) at under half the cost on the 2000x1500 -> 1024 step; BOX is
# cheaper still but leaves visible stair-steps on diagonals.
RESAMPLE = Image.Resampling.HAMMING
REDUCING_GAP = 2.0
# Between variants (1024 -> 512 -> 256) a 2x step is a plain 2x2 box average
# (Image.reduce): 1.6 ms instead of 7 ms for 1024 -> 512, and measured against
# a LANCZOS resize of the full decode it is closer (PSNR 44.5 vs 43.9 dB at
# 256), not further; any remainder is one short filtered step.
CASCADE_REDUCING_GAP = 1.0
# libwebp effort 0..6: 0 is the fastest (the 1024px encode takes 13 ms at 0,
# 60 ms at the default 4) and at quality ~80 looks the same at thumbnail size.
# It is the fastest at every size, so there is no per-size choice to make for
# speed; 2 would trade +40-75% encode time for 15-23% fewer bytes (bench
# photos: 1024px 12 -> 20 ms, 977 -> 828 kB for 30; same PSNR).
WEBP_METHOD = 0
# zlib level 3: 6 ms for a 256px thumbnail vs 14 ms at 6, for 9% more bytes.
PNG_COMPRESS_LEVEL = 3
JPEG_FLATTEN_BACKGROUND = (255, 255, 255)

_ORIENTATION_TAG = 0x0112
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class NotAnImage(Exception):
    """The file is not an image at all; the job should skip it quietly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImageRejected(Exception):
    """An image we refuse or fail to render: corrupt, truncated, or a bomb."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Rendered:
    """One encoded variant. ``size`` is the requested bound, the rest is actual."""

    size: int
    data: bytes
    width: int
    height: int
    format: OutputFormat


def fit_within(width: int, height: int, bound: int) -> tuple[int, int]:
    """Scale ``(width, height)`` so the longest side equals ``bound``.

    Never upscales: an image already within ``bound`` keeps its size. The
    short side is rounded and at least 1.
    """
    longest = max(width, height)
    if longest <= bound:
        return width, height
    if width >= height:
        return bound, max(1, round(height * bound / width))
    return max(1, round(width * bound / height)), bound


def _validate_encoding(fmt: str, quality: int) -> None:
    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {sorted(_FORMATS)}, not {fmt!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1..100, not {quality}")


def _validate_sizes(sizes: list[int]) -> list[int]:
    if not sizes or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be positive integers, got {sizes!r}")
    return list(dict.fromkeys(sizes))


def _open(path: str | PathLike[str]) -> Image.Image:
    """Open lazily, telling "not an image" apart from "a broken image"."""
    try:
        return Image.open(path)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"decompression bomb: {exc}") from exc
    except Exception as exc:  # Pillow plugins raise many types on hostile input
        try:
            with open(path, "rb") as fh:
                kind = sniff_format(fh.read(32))
        except OSError:
            kind = None
        if kind is None:
            raise NotAnImage("unrecognised file content") from exc
        raise ImageRejected(f"{kind} header is corrupt or unsupported: {exc}") from exc


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - unreadable EXIF: render as stored rather than fail
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _normalise(im: Image.Image) -> Image.Image:
    """Return an RGB or RGBA image (RGBA only when the source has alpha)."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        # Deep greyscale: stretch the used range to 8 bits instead of clipping at 255.
        lo, hi = cast(tuple[float, float], im.getextrema())  # one band: (min, max)
        scale = 255.0 / (hi - lo) if hi > lo else 1.0
        return im.convert("F").point(lambda v: (v - lo) * scale).convert("L").convert("RGB")
    if im.has_transparency_data:
        return im if im.mode == "RGBA" else im.convert("RGBA")
    return im if im.mode == "RGB" else im.convert("RGB")


def encode(im: Image.Image, fmt: OutputFormat, quality: int) -> bytes:
    """One RGB or RGBA image (from ``render_images``) as ``fmt`` bytes;
    alpha is flattened onto white for jpeg."""
    _validate_encoding(fmt, quality)
    buf = io.BytesIO()
    if fmt == "jpeg":
        if im.mode == "RGBA":
            flat = Image.new("RGB", im.size, JPEG_FLATTEN_BACKGROUND)
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        im.save(buf, "JPEG", quality=quality)
    elif fmt == "webp":
        im.save(buf, "WEBP", quality=quality, method=WEBP_METHOD)
    else:
        im.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def _draft(im: Image.Image, largest: int) -> float:
    """Ask for a reduced DCT-scale decode when the format supports it;
    return the scale (1 when there is none)."""
    if im.format == "JPEG" or im.format == "MPO":
        # Draft works in stored orientation; the longest side is the same
        # either way, so the stored-orientation fit is the right request.
        want = fit_within(im.width, im.height, largest)
        if want != im.size:
            full = im.size
            im.draft("RGB", want)
            if _three_eighths(im, full, want):
                return 3 / 8
            if im.decoderconfig:
                return 1 / im.decoderconfig[0]
    return 1.0


def _scales_in_eighths() -> bool:
    """Whether the linked libjpeg scales by any M/8 (libjpeg-turbo, IJG 7+),
    not just 1/1, 1/2, 1/4 and 1/8 (IJG 6b)."""
    if getattr(Image.core, "libjpeg_turbo_version", None):
        return True
    major = str(getattr(Image.core, "jpeglib_version", "")).split(".")[0]
    return major.isdigit() and int(major) >= 7


_EIGHTHS = _scales_in_eighths()
EIGHTHS_MIN_RATIO = 1.4
EIGHTHS_MIN_SIDE = 512


def _three_eighths(im: Image.Image, full: tuple[int, int], want: tuple[int, int]) -> bool:
    """Turn Pillow's 1/2 draft into 3/8 when that still covers ``want``.

    Pillow only asks libjpeg for 1/N; libjpeg-turbo rounds 1/3 up to 3/8
    (a 4000x3000 frame decodes to 1500x1125, not 2000x1500, for a 1024
    variant). The decode costs about the same, the resize to 1024 about
    half. The tile must be the exact size libjpeg writes (ceil(side * 3 /
    8)): the decoder copies that many pixels per row into it, so this is
    done only with a libjpeg known to scale by eighths.

    Scaled DCT decodes leave block-sized stair-steps on thin diagonal lines
    that only the following resize smooths away, so 3/8 is used only when
    it leaves at least EIGHTHS_MIN_RATIO to resize (from 1/2 to 3/8 at that
    ratio, webp PSNR against a LANCZOS full decode dropped at most 0.2 dB on
    images full of 1-5 px lines, 0.05 dB on the bench photos; at 1.03 it
    dropped 1.5 dB), and only for large variants, where the resize it saves
    is worth something.
    """
    if not _EIGHTHS or im.decoderconfig != (2, 0) or len(im.tile) != 1 or max(want) < EIGHTHS_MIN_SIDE:
        return False
    size = (-(-full[0] * 3 // 8), -(-full[1] * 3 // 8))
    if size[0] < want[0] or size[1] < want[1] or max(size) < max(want) * EIGHTHS_MIN_RATIO:
        return False
    decoder, extents, offset, args = im.tile[0]
    if extents is None:
        return False
    im.tile = [ImageFile._Tile(decoder, (extents[0], extents[1], extents[0] + size[0], extents[1] + size[1]),
                               offset, args)]
    im._size = size
    im.decoderconfig = (3, 0)
    return True


Hold = Callable[[int], AbstractContextManager[object]]


def render_variants(
    path: str | PathLike[str], sizes: list[int], fmt: OutputFormat, quality: int, *, hold: Hold | None = None
) -> list[Rendered]:
    """Decode ``path`` once and return one encoded thumbnail per size.

    Each variant fits in a ``size`` x ``size`` box with the longest side
    exactly ``size`` (never upscaled; smaller sources keep their size), EXIF
    orientation applied and aspect ratio kept. Alpha is kept for webp and png
    and flattened onto white for jpeg. Animated sources use their first frame.
    Results follow the order of ``sizes`` (duplicates dropped); sizes that
    come out the same are encoded once.

    ``hold`` and the exceptions are those of ``render_images``; a bad
    ``fmt`` or ``quality`` is a ``ValueError`` before the file is opened.
    """
    _validate_encoding(fmt, quality)
    images = render_images(path, sizes, hold=hold)
    encoded: dict[tuple[int, int], bytes] = {}
    out = []
    for size, im in images.items():
        if im.size not in encoded:
            encoded[im.size] = encode(im, fmt, quality)
        out.append(Rendered(size, encoded[im.size], im.width, im.height, fmt))
    return out


def render_images(
    path: str | PathLike[str], sizes: list[int], *, hold: Hold | None = None
) -> dict[int, Image.Image]:
    """Decode ``path`` once and return ``{size: RGB or RGBA image}`` for each
    size (in the order of ``sizes``, duplicates dropped), for callers that
    encode one size in more than one format. Sizes that come out the same
    share one image.

    ``hold(pixels)``, if given, is entered with the number of pixels about to
    be decoded and left once the decoded raster is gone (the caller's memory
    bound: it may wait for a lock); the file is opened only once either way.

    Raises ``NotAnImage`` when the content is not an image, ``ImageRejected``
    when it is one that cannot or must not be decoded (corrupt, truncated,
    decompression bomb), ``ValueError`` for bad sizes and ``OSError`` when
    the file cannot be read at all.
    """
    wanted = _validate_sizes(sizes)
    largest = max(wanted)
    saved_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated image must fail, not render grey
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            src = _open(path)
            with src:
                stored = src.size  # full resolution; draft() will shrink src.size
                scale = _draft(src, largest)
                with hold(src.width * src.height) if hold else contextlib.nullcontext():
                    work, orientation = _load(src, stored, largest, scale)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved_truncated
    if orientation in _TRANSPOSE:
        work = work.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            stored = stored[1], stored[0]
    return _cascade(work, stored, wanted)


def _load(src: Image.Image, stored: tuple[int, int], largest: int, scale: float) -> tuple[Image.Image, int]:
    """Decode ``src`` (drafted to ``scale``) and resize it to the largest
    variant, in stored orientation; return that and the EXIF orientation to
    apply to it."""
    try:
        # Image.open leaves multi-frame files (GIF, APNG, TIFF) on frame 0.
        src.load()
        # After the decode: PNG's getexif() may load() itself, and a
        # failure swallowed there would leave blank pixels behind.
        orientation = _orientation(src)
        work = _normalise(src)
        if work is not src:
            src.close()  # keep one full-size raster: drop the unconverted one
        # Resize in stored orientation, then orient the small result.
        # A scaled decode rounds partial blocks up (2700 rows at 3/8 -> 1013,
        # not 1012.5): resize only the part that is the source, or the
        # picture drifts by up to half a decoded pixel towards that edge.
        box = (0.0, 0.0, stored[0] * scale, stored[1] * scale)
        target = fit_within(*stored, largest)
        if target != work.size or box[2:] != work.size:
            work = work.resize(target, RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
        elif work is src:
            work = work.copy()  # closing src destroys its pixels
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"decompression bomb: {exc}") from exc
    except Exception as exc:  # truncated, corrupt, or a plugin bug on bad data
        raise ImageRejected(f"cannot decode {src.format or 'image'}: {exc}") from exc
    return work, orientation


def _cascade(top: Image.Image, source: tuple[int, int], wanted: list[int]) -> dict[int, Image.Image]:
    """``top`` and every smaller variant, each made from the one before it
    (the largest first): the fewest pixels to resample.

    Dimensions come from the full-resolution ``source`` size so rounding is
    the same as if each variant had been scaled from the original.
    """
    by_size: dict[int, Image.Image] = {}
    im = top
    for size in sorted(wanted, reverse=True):
        dims = fit_within(*source, size)
        if dims != im.size:
            im = im.resize(dims, RESAMPLE, reducing_gap=CASCADE_REDUCING_GAP)
        by_size[size] = im
    return {s: by_size[s] for s in wanted}
