"""Shared pieces of the dupes, validate and delete tests: trees, a brute-force
duplicate finder, and running a job to its end in this process (real store,
real worker pool)."""

from __future__ import annotations

import os
import random
from pathlib import Path

from sdjobs.core import registry
from sdjobs.core.fields import build_config
from sdjobs.runner.fanout import FanOut
from sdjobs.runner.host import execute

RAW = b"dup-\xff\xfe.bin"  # not valid UTF-8
SIZES = [1, 100, 4095, 4096, 4097, 8191, 8192, 32768, 32769, 70_000, 300_000]


def run_inline(store, job_type: str, config: dict, *, children: bool = True, settings: dict | None = None):
    """Submit ``job_type`` and run it (and the children it spawns) here, to the end."""
    cls = registry.get(job_type)
    cfg = cls.prepare(build_config(cls.Config, dict(config)))
    cls.validate(cfg)
    job_id = store.submit(job_type, cls.version, cfg, settings=settings)
    runner = store.register_runner(2, "test")
    for _ in range(20):
        recs = store.claim(runner, 1)
        if not recs:
            break
        rec = recs[0]
        if rec.id != job_id and not children:
            break
        execute(store, rec, runner, FanOut(2))
    store.unregister_runner(runner)
    return store.get(job_id)


def write(path, data: bytes, mtime_ns: int | None = None) -> None:
    p = os.fsencode(path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)
    if mtime_ns is not None:
        os.utime(p, ns=(mtime_ns, mtime_ns))


def make_tree(root, seed: int = 4) -> None:
    """For every size: three copies, one differing in the last byte, one in
    the first, one in the middle; plus empty files, hard links, symlinks (to a
    file and to a directory of copies: never followed), a non-UTF-8 name."""
    rng = random.Random(seed)
    root = Path(root)
    for size in SIZES:
        base = rng.randbytes(size)
        d = root / f"s{size}"
        write(d / "a", base)
        write(d / "sub" / "b", base)
        write(root / "other" / f"copy-{size}", base)
        for name, at, flip in (("end", size - 1, 0x55), ("start", 0, 0xAA), ("middle", size // 2, 0x0F)):
            changed = bytearray(base)
            changed[at] ^= flip
            write(d / name, bytes(changed))
    for name in ("e1", "e2", "sub/e3"):
        write(root / "empty" / name, b"")
    os.link(root / "s100" / "a", root / "s100" / "a-link")                # a link to one of three copies
    write(root / "links" / "only", rng.randbytes(5000))
    os.link(root / "links" / "only", root / "links" / "only-link")       # a file with two names, no copy
    os.symlink("a", root / "s4096" / "sym-to-a")
    os.symlink(root / "other", root / "sym-dir")
    write(os.path.join(os.fsencode(root), b"other", RAW), (root / "s8192" / "a").read_bytes())


def brute_force(roots, *, min_size: int = 1, hardlinks: bool = False) -> set[frozenset[str]]:
    """Groups of paths with equal bytes, by reading everything. One path per
    inode (the smallest in byte order) unless ``hardlinks``."""
    by_content: dict[bytes, dict[tuple[int, int], list[str]]] = {}
    for root in roots:
        for dirpath, _dirs, files in os.walk(os.fspath(root)):
            for name in files:
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                if not os.path.isfile(p) or os.path.islink(p) or st.st_size < min_size:
                    continue
                with open(p, "rb") as f:
                    data = f.read()
                by_content.setdefault(data, {}).setdefault((st.st_dev, st.st_ino), []).append(p)
    groups = set()
    for inodes in by_content.values():
        if hardlinks:
            paths = [p for ps in inodes.values() for p in ps]
            if len(paths) > 1:
                groups.add(frozenset(paths))
        elif len(inodes) > 1:
            groups.add(frozenset(min(ps, key=os.fsencode) for ps in inodes.values()))
    return groups


def found(results: dict) -> set[frozenset[str]]:
    return {frozenset(g["paths"]) for g in results["groups"]}
