"""Cheap image facts from file headers, without decoding pixels.

``is_probably_image`` looks only at magic bytes; ``image_info`` lets Pillow
parse the header (``Image.open`` is lazy and never touches pixel data) and
reads the EXIF capture time when the header carries it.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from os import PathLike
from typing import NamedTuple

from PIL import Image, UnidentifiedImageError

__all__ = ["ImageInfo", "image_info", "is_probably_image", "sniff_format"]

_HEAD = 32

# (offset, signature, format). Order matters only where signatures overlap.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"II+\x00", "TIFF"),  # BigTIFF
    (0, b"MM\x00+", "TIFF"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"8BPS", "PSD"),
    (0, b"\xff\x4f\xff\x51", "JPEG2000"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG2000"),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JXL"),
    (0, b"\xff\x0a", "JXL"),
    (0, b"qoif", "QOI"),
    (0, b"DDS ", "DDS"),
    (0, b"icns", "ICNS"),
    (0, b"\x76\x2f\x31\x01", "EXR"),
    (0, b"#?RADIANCE", "HDR"),
)
_ISO_BMFF_BRANDS: dict[bytes, str] = {
    b"avif": "AVIF", b"avis": "AVIF",
    b"heic": "HEIF", b"heix": "HEIF", b"hevc": "HEIF", b"heim": "HEIF",
    b"heis": "HEIF", b"mif1": "HEIF", b"msf1": "HEIF",
}

_TAG_DATETIME = 0x0132
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_IFD_EXIF = 0x8769


class ImageInfo(NamedTuple):
    """What the header says. ``format`` is Pillow's name, e.g. ``"JPEG"``."""

    width: int
    height: int
    format: str
    exif_datetime: datetime | None


def sniff_format(head: bytes) -> str | None:
    """Name the image format that ``head`` (a file's first bytes) starts with."""
    for offset, sig, name in _MAGIC:
        if head[offset : offset + len(sig)] == sig:
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in _ISO_BMFF_BRANDS:
        return _ISO_BMFF_BRANDS[head[8:12]]
    if len(head) >= 3 and head[0:1] == b"P" and head[1:2] in b"1234567" and head[2:3] in b" \t\r\n":
        return "PPM"
    return None


def is_probably_image(path: str | PathLike[str]) -> bool:
    """True when the file starts with the magic bytes of a raster image format.

    Reads at most 32 bytes. Unreadable files are reported as not images; the
    caller will meet the real error when it opens them for work.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD)
    except OSError:
        return False
    return sniff_format(head) is not None


def _parse_exif_datetime(value: object) -> datetime | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    text = value.strip("\x00 ")
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _exif_datetime(im: Image.Image) -> datetime | None:
    """DateTimeOriginal, else DateTimeDigitized, else IFD0 DateTime."""
    try:
        exif = im.getexif()
        sub = exif.get_ifd(_IFD_EXIF)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not fail the probe
        return None
    for value in (sub.get(_TAG_DATETIME_ORIGINAL), sub.get(_TAG_DATETIME_DIGITIZED), exif.get(_TAG_DATETIME)):
        found = _parse_exif_datetime(value)
        if found is not None:
            return found
    return None


def image_info(path: str | PathLike[str]) -> ImageInfo:
    """Return width, height, format and EXIF capture time from the header.

    Width and height are as stored: an EXIF orientation of 5-8 is *not*
    applied here (the renderer applies it). Raises ``ValueError`` when Pillow
    does not recognise the file and ``OSError`` when it cannot be read.
    """
    with warnings.catch_warnings():
        # Header-only: a huge declared size is a fact to report, not a risk yet.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                # Other formats (PNG with eXIf after IDAT) would have to decode to find it.
                has_exif = im.format in ("JPEG", "TIFF", "WEBP", "MPO") or "exif" in im.info
                exif_dt = _exif_datetime(im) if has_exif else None
                return ImageInfo(im.width, im.height, im.format or "", exif_dt)
        except UnidentifiedImageError as exc:
            raise ValueError(f"not a recognised image: {path}") from exc
        except Image.DecompressionBombError:
            # Pillow refuses to even open these; fall back to no facts at all.
            raise ValueError(f"image too large to open safely: {path}") from None
