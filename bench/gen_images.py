"""Generate photo-like JPEGs for the thumbnail benchmarks.

    python bench/gen_images.py DIR --count 30 [--seed 1]

The images mix 4000x3000 (12 MP camera) and 1920x1080 frames. Each one is a
soft colour gradient with blurred shapes, mid-frequency texture, a few sharp
edges and fine sensor-like grain, saved at quality 90, so it compresses like a
real photo (a few MB per 12 MP frame). Some carry an EXIF orientation tag
(6, 8 or 3) and all carry a DateTimeOriginal. Output is a pure function of
the seed and the index.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

SIZES: tuple[tuple[int, int], ...] = ((4000, 3000), (1920, 1080))
ORIENTATIONS: tuple[int, ...] = (1, 1, 6, 1, 8, 1, 3)


def _gradient(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A smooth three-channel backdrop from rotated linear gradients."""
    bands = []
    for _ in range(3):
        g = Image.linear_gradient("L").rotate(rng.uniform(0, 360), resample=Image.Resampling.BICUBIC)
        lo, hi = sorted((rng.randrange(0, 256), rng.randrange(0, 256)))
        g = g.crop((48, 48, 208, 208)).point(lambda v, lo=lo, hi=hi: lo + v * (hi - lo) // 255)
        bands.append(g)
    return Image.merge("RGB", bands).resize(size, Image.Resampling.BICUBIC)


def _shapes(img: Image.Image, rng: random.Random, count: int, width: int) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    for _ in range(count):
        colour = tuple(rng.randrange(256) for _ in range(3))
        x0, y0 = rng.randrange(-w // 4, w), rng.randrange(-h // 4, h)
        x1, y1 = x0 + rng.randrange(w // 20, w // 2), y0 + rng.randrange(h // 20, h // 2)
        kind = rng.randrange(3)
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            pts = [(rng.randrange(w), rng.randrange(h)) for _ in range(rng.randrange(3, 7))]
            draw.polygon(pts, fill=colour, outline=(0, 0, 0), width=width)


def _noise(size: tuple[int, int], rng: random.Random) -> Image.Image:
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


def make_photo(size: tuple[int, int], seed: int) -> Image.Image:
    """Return one deterministic photo-like RGB image of ``size``."""
    rng = random.Random(seed)
    w, h = size
    small = (w // 8, h // 8)
    base = _gradient(small, rng)
    _shapes(base, rng, 14, 1)
    base = base.filter(ImageFilter.GaussianBlur(3))
    # Mid-frequency texture (foliage, fabric): blurred noise at 1/4 scale.
    tex = _noise((w // 4, h // 4), rng).filter(ImageFilter.GaussianBlur(1.2))
    img = base.resize(size, Image.Resampling.BICUBIC)
    tex_rgb = Image.merge("RGB", [tex.resize(size, Image.Resampling.BILINEAR)] * 3)
    img = Image.blend(img, tex_rgb, 0.18)
    # A few in-focus hard edges at full resolution.
    _shapes(img, rng, 5, max(2, w // 800))
    # Fine grain, luminance only, roughly +/-6 levels.
    grain = _noise(size, rng).point(lambda v: v // 21)
    img = ImageChops.add(img, Image.merge("RGB", [grain] * 3), scale=1.0, offset=-6)
    return img


def write_photo(path: Path, size: tuple[int, int], seed: int, orientation: int) -> None:
    """Render and save one JPEG (quality 90) with EXIF date and orientation."""
    img = make_photo(size, seed)
    if orientation in (5, 6, 7, 8):
        # Store the pixels "as the sensor saw them" so the tag rotates them upright.
        img = img.transpose(Image.Transpose.ROTATE_90 if orientation == 6 else Image.Transpose.ROTATE_270)
    elif orientation == 3:
        img = img.transpose(Image.Transpose.ROTATE_180)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x0132] = f"2021:06:{1 + seed % 28:02d} 12:{seed % 60:02d}:00"
    exif.get_ifd(0x8769)[0x9003] = f"2021:06:{1 + seed % 28:02d} 12:{seed % 60:02d}:00"
    img.save(path, "JPEG", quality=90, exif=exif.tobytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    for i in range(args.count):
        size = SIZES[i % 2]
        orientation = ORIENTATIONS[i % len(ORIENTATIONS)]
        path = args.dir / f"photo_{i:03d}_{size[0]}x{size[1]}_o{orientation}.jpg"
        write_photo(path, size, args.seed * 100_003 + i, orientation)
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
