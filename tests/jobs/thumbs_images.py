"""Small real images for the thumbs tests (generated, a few ms each)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw


def photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A photo-like RGB image: gradients, a few shapes, some noise."""
    w, h = size
    base = Image.merge("RGB", [Image.linear_gradient("L").rotate(30 * (seed + k)).resize(size) for k in range(3)])
    draw = ImageDraw.Draw(base)
    for k in range(4):
        x, y = (seed * 37 + k * 53) % max(1, w), (seed * 17 + k * 71) % max(1, h)
        draw.ellipse((x, y, x + w // 4, y + h // 4), fill=((seed * 50 + k * 60) % 256, 90, 200 - k * 30))
    noise = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(base, noise, 0.12)


def jpeg(path: Path, size: tuple[int, int], seed: int = 0, orientation: int | None = None,
         quality: int = 85) -> Path:
    im = photo(size, seed)
    kw = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "JPEG", quality=quality, **kw)
    return path


def marked_jpeg(path: Path, size: tuple[int, int], orientation: int) -> Path:
    """Grey, with a pure red block in the stored top-left corner."""
    im = Image.new("RGB", size, (128, 128, 128))
    ImageDraw.Draw(im).rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def half_transparent_png(path: Path, size: tuple[int, int] = (200, 100)) -> Path:
    """Left half opaque red, right half fully transparent."""
    im = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((0, 0, size[0] // 2 - 1, size[1]), fill=(255, 0, 0, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "PNG")
    return path


def save(path: Path, im: Image.Image, fmt: str, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, fmt, **kw)
    return path


def truncated_copy(src: Path, dst: Path, keep: float = 0.4) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def corrupt_jpeg(dst: Path, src: Path) -> Path:
    """A JPEG whose Huffman table is garbage: libjpeg refuses to decode it."""
    data = bytearray(src.read_bytes())
    dht = data.find(b"\xff\xc4")
    data[dht + 5:dht + 21] = b"\xff" * 16  # the 16 code-length counts
    dst.write_bytes(bytes(data))
    return dst


def bad_header_jpeg(dst: Path, src: Path) -> Path:
    """A JPEG whose frame header says it is 0 pixels high."""
    data = bytearray(src.read_bytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 7] = b"\x00\x00"
    dst.write_bytes(bytes(data))
    return dst


def bomb_png(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A tiny PNG whose header claims width x height pixels (900 Mpx):
    over Pillow's decompression-bomb limit."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def mtime_ns(path: Path) -> int:
    return os.stat(path).st_mtime_ns
