"""Generate trees for the dupes and validate benchmarks (deterministic).

    python bench/dupes_data.py mixed /tmp/dupes-20k    # ~20,000 files + a few large ones
    python bench/dupes_data.py small /tmp/dupes-200k   # ~200,000 small files, many of one size
    python bench/dupes_data.py lognormal /tmp/dupes-ln # 200,000 files, log-normal sizes (~3 GB)

Both trees plant exact duplicates, same-size files that differ only at the
end, same-size files that differ only at the start, hard links and symlinks.
"""

from __future__ import annotations

import argparse
import os
import random
import sys


def _blob(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n)


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def make_tree(root: str, *, files: int, sizes: list[int], dup_rate: float, per_dir: int,
              seed: int, large: list[tuple[str, int, str]] = ()) -> dict:
    """Write ``files`` files under ``root`` in directories of ``per_dir``.

    Each new file is either a copy of an earlier file (``dup_rate``), a
    same-size variant of an earlier file differing in its last or first
    byte, or fresh random content of a size drawn from ``sizes``."""
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    made: list[bytes] = []
    stats = {"files": 0, "bytes": 0, "dups": 0, "variants": 0, "links": 0, "symlinks": 0}
    for i in range(files):
        d = os.path.join(root, f"d{i // per_dir // 50:03d}", f"s{i // per_dir:04d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        path = os.path.join(d, f"f{i:07d}.bin")
        r = rng.random()
        if made and r < dup_rate:
            data = made[rng.randrange(len(made))]
            stats["dups"] += 1
        elif made and r < dup_rate + 0.1:
            base = bytearray(made[rng.randrange(len(made))])
            if base:
                at = len(base) - 1 if rng.random() < 0.5 else 0
                base[at] ^= 0xFF
            data = bytes(base)
            stats["variants"] += 1
        else:
            data = _blob(rng, rng.choice(sizes))
            if len(made) < 50_000:
                made.append(data)
            else:
                made[rng.randrange(len(made))] = data
        _write(path, data)
        stats["files"] += 1
        stats["bytes"] += len(data)
        if i % 997 == 5:
            os.link(path, path + ".hl")
            stats["links"] += 1
        if i % 1009 == 7:
            os.symlink(os.path.basename(path), path + ".sym")
            stats["symlinks"] += 1
    big = os.path.join(root, "large")
    os.makedirs(big, exist_ok=True)
    blobs: dict[str, bytes] = {}
    for name, size, like in large:
        if like and like.startswith("="):
            data = blobs[like[1:]]
        elif like and like.startswith("~"):
            b = bytearray(blobs[like[1:]])
            b[-1] ^= 0xFF
            data = bytes(b)
        else:
            data = _blob(rng, size)
        blobs[name] = data
        _write(os.path.join(big, name), data)
        stats["files"] += 1
        stats["bytes"] += len(data)
    return stats


def mixed(root: str) -> dict:
    sizes = sorted({int(1024 * 1.15 ** k) for k in range(50)})  # 1 KiB .. ~1 MiB
    sizes = [s for s in sizes if s <= 256 << 10]
    M = 1 << 20
    large = [("big-a.bin", 128 * M, ""), ("big-a-copy.bin", 0, "=big-a.bin"),
             ("big-a-lastbyte.bin", 0, "~big-a.bin"), ("big-b.bin", 64 * M, "")]
    return make_tree(root, files=20_000, sizes=sizes, dup_rate=0.25, per_dir=200, seed=20, large=large)


def small(root: str) -> dict:
    sizes = list(range(64, 8192, 64))  # 127 sizes: many files share each size
    return make_tree(root, files=200_000, sizes=sizes, dup_rate=0.3, per_dir=500, seed=200)


def lognormal(root: str) -> dict:
    """200,000 files whose sizes are log-normal (median ~5 KiB, a long tail to
    8 MiB) as in photo libraries and source trees: small sizes repeat often by
    themselves, large ones only through copies."""
    rng = random.Random(2000)
    sizes = [min(int(rng.lognormvariate(8.5, 1.5)) + 1, 8 << 20) for _ in range(4096)]
    return make_tree(root, files=200_000, sizes=sizes, dup_rate=0.2, per_dir=300, seed=2000)


TREES = {"mixed": mixed, "small": small, "lognormal": lognormal}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=sorted(TREES))
    ap.add_argument("root")
    a = ap.parse_args(argv)
    if os.path.exists(a.root) and os.listdir(a.root):
        print(f"{a.root} exists and is not empty; leaving it", file=sys.stderr)
        return 0
    stats = TREES[a.kind](a.root)
    print(stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
