"""Header-only probing: image_info and is_probably_image."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from sdjobs.imaging.probe import ImageInfo, image_info, is_probably_image, sniff_format


def _exif(orientation: int = 1, original: str | None = None, plain: str | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    if plain:
        exif[0x0132] = plain
    if original:
        exif.get_ifd(0x8769)[0x9003] = original
    return exif.tobytes()


@pytest.fixture
def no_decode(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record every real pixel decode; probing must not cause any."""
    decodes: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def load(self):  # type: ignore[no-untyped-def]
        if self.tile:
            decodes.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return decodes


def test_jpeg_info_with_exif_datetime(tmp_path: Path, no_decode: list[tuple[int, int]]) -> None:
    path = tmp_path / "a.jpg"
    Image.new("RGB", (640, 480), "green").save(
        path, exif=_exif(6, original="2020:02:29 13:14:15", plain="2021:01:01 00:00:00"))
    info = image_info(path)
    assert info == ImageInfo(640, 480, "JPEG", datetime(2020, 2, 29, 13, 14, 15))
    assert (info.width, info.height) == (640, 480)  # stored size; orientation is the renderer's job
    assert no_decode == []


def test_falls_back_to_ifd0_datetime(tmp_path: Path) -> None:
    path = tmp_path / "b.jpg"
    Image.new("RGB", (10, 10)).save(path, exif=_exif(plain="2019:07:04 08:09:10"))
    assert image_info(path).exif_datetime == datetime(2019, 7, 4, 8, 9, 10)


@pytest.mark.parametrize("value", ["    :  :     :  :  ", "0000:00:00 00:00:00", "garbage"])
def test_unparseable_datetime_is_none(tmp_path: Path, value: str) -> None:
    path = tmp_path / "c.jpg"
    Image.new("RGB", (10, 10)).save(path, exif=_exif(original=value))
    assert image_info(path).exif_datetime is None


@pytest.mark.parametrize(
    ("name", "fmt", "mode"),
    [("a.png", "PNG", "RGBA"), ("a.gif", "GIF", "P"), ("a.webp", "WEBP", "RGB"),
     ("a.bmp", "BMP", "RGB"), ("a.tif", "TIFF", "RGB")],
)
def test_other_formats(tmp_path: Path, no_decode: list[tuple[int, int]], name: str, fmt: str, mode: str) -> None:
    path = tmp_path / name
    Image.new(mode, (33, 21)).save(path, fmt)
    assert image_info(path) == ImageInfo(33, 21, fmt, None)
    assert no_decode == []
    assert is_probably_image(path)


def test_mislabelled_reports_real_format(tmp_path: Path) -> None:
    path = tmp_path / "png_really.jpg"
    Image.new("RGB", (5, 7)).save(path, "PNG")
    assert image_info(path).format == "PNG"
    assert is_probably_image(path)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "noise.jpg"
    path.write_bytes(random.Random(1).randbytes(1000))
    with pytest.raises(ValueError):
        image_info(path)
    assert not is_probably_image(path)


def test_huge_declared_size_still_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (300, 10)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # 3000 px: a warning, not an error
    assert image_info(path).width == 300


@pytest.mark.parametrize(
    ("head", "fmt"),
    [(b"\xff\xd8\xff\xe1....", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF89a", "GIF"),
     (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"), (b"II*\x00", "TIFF"), (b"BM", "BMP"),
     (b"\x00\x00\x00\x1cftypheic", "HEIF"), (b"\x00\x00\x00\x1cftypavif", "AVIF"),
     (b"P6\n", "PPM"), (b"RIFF\x00\x00\x00\x00WAVEfmt ", None), (b"%PDF-1.7", None),
     (b"PK\x03\x04", None), (b"", None), (b"Plain text", None)],
)
def test_sniff_format(head: bytes, fmt: str | None) -> None:
    assert sniff_format(head) == fmt


def test_is_probably_image_edge_cases(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.touch()
    assert not is_probably_image(empty)
    assert not is_probably_image(tmp_path / "missing.png")
    assert not is_probably_image(tmp_path)  # a directory
    text = tmp_path / "notes.jpg"
    text.write_text("not a jpeg")
    assert not is_probably_image(text)
