"""dupes in one round over the workers: the walk sorts what it finds into shards
by size, and each shard is grouped, read and rendered by one worker.

Two files can only be duplicates if they have the same size, and so can only
be hard links of one another (one inode, one size): a shard that holds every
file of its sizes can settle them alone. So each walk task returns its files
cut into ``count`` shards (by size modulo a prime), packed
(``dupes.scan.pack``), with their bytes; the job only gathers the packed
pieces of each shard (no unpacking, no grouping of its own: that was a third
of a 200,000-file run's wall time, on one core, with the workers idle), and
hands each shard to a worker (``settle_shard``), the biggest first: it groups
its files by size (hard links collapsed as ``dupes.groups.size_groups`` does),
stages each size group (``dupes.hashing.staged_group``: first 4 KiB, last
4 KiB, full hash, the same reads as the passes) and returns its groups
rendered as results (``dupes.hashing.render_settled``) and sorted.

It is the job's path for the plain search (``--mode hash``, no ``--then``,
no ``--bwlimit``, no ``--hardlinks``), when the index vouches for none of
the files, and no shard is more than a worker's share of the files or bytes
(one shard holds a whole size group: thousands of files of one size go pass
by pass, over every worker). The job
checkpoints the shards still to settle and the groups found; a resumed job
settles the rest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from .groups import size_groups
from .hashing import render_settled, same_content, staged_group
from .scan import Files, pack, unpack

SHARDS_PER_WORKER = 8
SMALL_FILES, SMALL_BYTES = 4096, 256 << 20  # a search this small is over before balance matters
# Seconds each shard waits before it is settled: lets tests stop a run between two shards.
TEST_DELAY = float(os.environ.get("SDJOBS_DUPES_TEST_DELAY") or 0)
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
           101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197,
           199, 211, 223, 227, 229, 233, 239, 241, 251)


def shard_count(workers: int) -> int:
    """A prime of at least SHARDS_PER_WORKER per worker: sizes that are all multiples of
    a block (4096 and the like) still spread over every shard."""
    want = SHARDS_PER_WORKER * max(1, workers)
    return next((p for p in _PRIMES if p >= want), _PRIMES[-1])


def cut(files: Files, count: int) -> list[tuple[tuple, int] | None]:
    """``files`` cut into ``count`` shards by size: per shard (packed files, their bytes), or None."""
    buckets: list[list[int]] = [[] for _ in range(count)]
    for i, size in enumerate(files.sizes):
        buckets[size % count].append(i)
    sizes = files.sizes
    return [(pack(files.take(b)), sum(map(sizes.__getitem__, b))) if b else None for b in buckets]


def cut_by_arg(files: Files, count: int) -> list[list[tuple[tuple, int] | None]]:
    """``cut`` of the files of each PATH argument apart (a pack keeps one argument for all its files)."""
    by: dict[int, list[int]] = {}
    for i, arg in enumerate(files.args):
        by.setdefault(arg, []).append(i)
    return [cut(files.take(ix), count) for ix in by.values()]


def settle_shard(task: tuple) -> tuple[list[tuple], list[tuple[str, str]], int, int]:
    """Worker: one shard's duplicate groups, as (rendered groups sorted as the results are,
    (path, error) per file that could not be read, bytes read, candidates: files that
    shared their size with another inode). ``task``: (the shard's packed pieces, whether
    several PATH arguments were given: the groups' paths are then in argument order)."""
    pieces, by_arg = task
    if TEST_DELAY:
        time.sleep(TEST_DELAY)
    files = Files()
    for p in pieces:
        files.extend(unpack(p))
    groups, _links = size_groups(files, hardlinks=False, by_name=False)
    paths, sizes, args = files.paths, files.sizes, files.args
    rendered: list[tuple] = []
    errors: list[tuple[str, str]] = []
    nbytes = candidates = 0
    for g in groups:
        size = sizes[g[0]]
        names = list(map(paths.__getitem__, g))
        candidates += len(g)
        keys, errs, n = staged_group(names, size)
        nbytes += n
        errors += [(names[pos], text) for pos, text in errs]
        render = (list(map(args.__getitem__, g)) if by_arg else None,)
        rendered += [render_settled(render, names, size, digest, members)
                     for digest, members in same_content(keys)]
    rendered.sort()
    return rendered, errors, nbytes, candidates


def balanced(shards: list[tuple[list, int, int]], workers: int) -> bool:
    """No shard (pieces, files, bytes) is more than a worker's share of the files or of
    the bytes (the first one, the biggest, goes first and alone would be the end)."""
    files = sum(s[1] for s in shards)
    nbytes = sum(s[2] for s in shards)
    w = max(1, workers)
    return all(s[1] * w <= max(files, SMALL_FILES) and s[2] * w <= max(nbytes, SMALL_BYTES) for s in shards)


def order(shards: list[tuple[list, int, int]]) -> list[int]:
    """The shards to hand out, the most bytes first (so that the biggest overlap the rest)."""
    return sorted((k for k, s in enumerate(shards) if s[1] > 1), key=lambda k: -shards[k][2])


def known(shards: list[tuple[list, int, int]]) -> bool:
    """Whether the index vouches for any file of the shards (``dupes.scan.pack``'s last field)."""
    return any(p[7] for s in shards for p in s[0])


def files_of(shards: list[tuple[list, int, int]]) -> Files:
    """Every shard's files, unpacked (for the pass-by-pass path)."""
    files = Files()
    for pieces, _n, _b in shards:
        for p in pieces:
            files.extend(unpack(p))
    return files


def gather(walked: Iterable[list], count: int, shards: list[tuple[list, int, int]] | None = None,
           check: Callable[[], None] = lambda: None) -> list[tuple[list, int, int]]:
    """The walk tasks' shards (each task: per shard (pack, bytes) or None) gathered per
    shard as [pieces, files, bytes]: lists joined, nothing unpacked."""
    out = shards or [[[], 0, 0] for _ in range(count)]
    for per_task in walked:
        for k, got in enumerate(per_task):
            if got is not None:
                packed, nbytes = got
                s = out[k]
                s[0].append(packed)
                s[1] += packed[6]
                s[2] += nbytes
        check()
    return out
