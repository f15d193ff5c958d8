"""dupes: the pure part of grouping. Which files collide (size groups, hard
links collapsed), what each colliding group must read next, how the reads
regroup them, and how the reads are cut into batches for the workers.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections import Counter
from itertools import accumulate, chain, compress, filterfalse

from .hashing import HEADS_FROM, WHOLE
from .scan import Files

# A batch is one ctx.map chunk: each costs a fan-out token round trip to the
# runner (its worker idles meanwhile), so few and big: ~4 per worker.
BATCH_FILES = 25_000
BATCH_BYTES = 96 << 20
BATCHES_PER_WORKER = 4
CHECKPOINT_EVERY = 5.0   # at least; more when writing one costs more than 4% of that
EDGE_BYTES = 4096
PHASE_NAMES = {1: "compare first 4 KiB", 2: "compare last 4 KiB", 3: "compare full hashes"}
# A size group is staged whole in one task (first 4 KiB, last 4 KiB, full: one
# pass instead of three) when reading all of it would be at most this share
# of reading every group; bigger ones go pass by pass, spread over the workers.
STAGED_SHARE = 0.25


def size_groups(files: Files, hardlinks: bool, by_name: bool) -> tuple[list[list[int]], dict[int, list[int]]]:
    """Groups of 2+ distinct files of one size (and name); hard links collapsed
    to their first path, the other paths kept in ``links``."""
    sizes = files.sizes
    keys: list = list(zip(sizes, map(os.path.basename, files.paths), strict=True)) if by_name else sizes
    groups = runs(keys, range(len(keys)))
    links: dict[int, list[int]] = {}
    devs, inos, args, paths = files.devs, files.inos, files.args, files.paths
    linked: set[int] = set()
    repeated = {x for x, n in Counter(inos).items() if n > 1}  # ints count 2-3x faster than (dev, ino) pairs
    if repeated:  # inode numbers repeat: look at (device, inode) of those only
        maybe = list(compress(range(len(inos)), map(repeated.__contains__, inos)))
        idents = [(devs[i], inos[i]) for i in maybe]
        shared = {x for x, n in Counter(idents).items() if n > 1}
        linked = set(compress(maybe, map(shared.__contains__, idents)))
    if linked:  # some files have several names: keep one per inode
        rank = lambda i: (args[i], paths[i])  # noqa: E731
        collapsed = []
        for g in groups:
            if linked.isdisjoint(g):
                collapsed.append(g)
                continue
            prim = list(filterfalse(linked.__contains__, g))
            by_inode: dict[tuple[int, int], list[int]] = {}
            for i in linked.intersection(g):
                by_inode.setdefault((devs[i], inos[i]), []).append(i)
            for same in by_inode.values():
                if len(same) > 1:
                    same.sort(key=rank)
                    links[same[0]] = same[1:]
                prim.append(same[0])
            if len(prim) > 1:
                collapsed.append(prim)
        groups = collapsed
    if links and not hardlinks:
        grouped = set(chain.from_iterable(groups))
        links = {i: js for i, js in links.items() if i in grouped}
    return groups, links


def with_link_groups(groups: list[list[int]], links: dict[int, list[int]], hardlinks: bool) -> list[list[int]]:
    """With ``hardlinks``, a file with several names is a group even without another copy."""
    if not hardlinks:
        return groups
    grouped = {i for g in groups for i in g}
    return groups + [[i] for i in links if i not in grouped]


def settle_known(groups: list[list[int]], known: dict[int, str], final: list[list[int]]) -> list[list[int]]:
    """Split the groups whose every file has a stored full hash (nothing to
    read); returns the groups that still need reading."""
    full = {i: k for i, k in known.items() if k[0] == "F"}.get
    rest = []
    for g in groups:
        ks = list(map(full, g))
        if None in ks:
            rest.append(g)
            continue
        sub: dict[str, list[int]] = {}
        for i, k in zip(g, ks, strict=True):
            sub.setdefault(k, []).append(i)
        final += [m for m in sub.values() if len(m) > 1]
    return rest


def next_pass(groups: list[list[int]], keys: dict[int, str], known: dict[int, str],
               sizes: list[int]) -> dict:
    """What to read next for each colliding group, from what its keys are now."""
    idx: list[int] = []
    kinds: list[str] = []
    settled: list[int] = []
    spans: list[tuple[str, int, int]] = []  # (kind, size, files) of each group read, in order
    level = 0
    whole = sum(sizes[g[0]] * len(g) for g in groups) * STAGED_SHARE
    # a group of small files is settled whole by one worker if it is not a batch's worth
    few = max(64, sum(map(len, groups)) // (BATCHES_PER_WORKER * (os.cpu_count() or 1)))
    for n, g in enumerate(groups):
        k0 = keys.get(g[0])
        if k0 is None and not known:
            size = sizes[g[0]]
            if size * len(g) <= whole and (size > WHOLE or len(g) <= few):
                need = "S"
                settled.append(n)
            else:
                need = "F" if size <= WHOLE else "H"
            idx += g
            kinds += [need] * len(g)
            spans.append((need, size, len(g)))
            level = max(level, 1)
        elif k0 is None:
            have = [known.get(i) for i in g]
            if any(h and h[0] == "F" for h in have):
                need = "F"
            elif sizes[g[0]] > WHOLE and any(h and h[0] == "C" for h in have):
                need = "C"
            else:
                need = "F" if sizes[g[0]] <= WHOLE else "H"
            before = len(idx)
            for i, h in zip(g, have, strict=True):
                if h and h[0] == need:
                    keys[i] = h
                else:
                    idx.append(i)
                    kinds.append(need)
            spans.append((need, sizes[g[0]], len(idx) - before))
            level = max(level, 1)
        else:
            need = {"H": "T", "T": "F", "C": "F"}[k0[0]]
            level = max(level, 2 if need == "T" else 3)
            idx += g
            kinds += [need] * len(g)
            spans.append((need, sizes[g[0]], len(g)))
    return {"idx": idx, "kinds": kinds, "settled": settled, "spans": spans,
            "name": PHASE_NAMES.get(level, "compare")}


def runs(keys: list, items) -> list[list]:
    """The ``items`` of each key that 2+ of them share (``keys[i]`` is the key of
    the i-th item; None is nobody's), groups in the order of their keys, items in
    theirs. Counted by C (``Counter``), then one dict look-up per item: a third
    of the time of sorting the items by key (200,000 sizes: 46 ms against 200)."""
    counts = Counter(keys)
    counts.pop(None, None)
    shared = sorted(k for k, n in counts.items() if n > 1)
    if not shared:
        return []
    by: dict = {k: [] for k in shared}
    get = by.get
    for k, i in zip(keys, items, strict=True):
        m = get(k)
        if m is not None:
            m.append(i)
    return list(by.values())


def regroup(groups: list[list[int]], keys: dict[int, str]) -> tuple[list[list[int]], list[list[int]]]:
    """Split each group by its members' keys; (still colliding, final) groups of 2+."""
    still, final = [], []
    get = keys.get
    for g in groups:
        ks = list(map(get, g))  # unreadable files (None) drop out
        for members in runs(ks, g):
            (final if keys[members[0]][0] == "F" else still).append(members)
    return still, final


def cost(kind: str, size: int) -> int:
    if kind in ("H", "T"):
        return min(size, EDGE_BYTES)
    if kind == "S":  # small: read whole; else at least the first 4 KiB, the worker says how much more
        return size if size <= HEADS_FROM else min(size, EDGE_BYTES)
    if kind == "C":
        return size if size <= 100 * 1024 else 57344
    return size


def span_costs(spans: list) -> list[int]:
    """The ``cost`` of each file of a pass, built a group at a time from its spans."""
    out: list[int] = []
    for kind, size, n in spans:
        out += [cost(kind, size)] * n
    return out


def span_glue(spans: list) -> list[bool]:
    """``staged_runs`` built a group at a time from a pass's spans."""
    out: list[bool] = []
    for kind, _size, n in spans:
        out += [True] * (n - 1) + [False] if kind == "S" and n else [False] * n
    return out


def staged_runs(kinds: str | list[str], idx: list[int], sizes: list[int]) -> list[bool]:
    """glue[b]: position b+1 belongs to the same staged size group as b (no cut between)."""
    return [kinds[b] == "S" and kinds[b + 1] == "S" and sizes[idx[b]] == sizes[idx[b + 1]]
            for b in range(len(idx) - 1)] + [False]


def bounds(cost: list[int], start: int, glue: list[bool] | None = None) -> list[tuple[int, int]]:
    """Batches of at most BATCH_FILES files and about BATCH_BYTES bytes, and
    at least ~BATCHES_PER_WORKER per worker so that both cores stay busy to
    the end; never cut where ``glue`` says a staged group goes on.

    Guided: once what is left is less than BATCHES_PER_WORKER full batches per
    worker, each batch is that share of what is left (files and bytes), down to a
    floor, so the last batches are small and the workers end together: with
    equal batches, one worker could wait out a whole batch of the other at the end."""
    n = len(cost)
    workers = os.cpu_count() or 1
    per = max(16, min(BATCH_FILES, (n - start) // (BATCHES_PER_WORKER * workers) or 16))
    floor = max(16, per // 8)
    cum = [0, *accumulate(cost)]  # cum[i]: the cost of the files before position i
    floor_bytes = max(1 << 20, min(BATCH_BYTES, (cum[n] - cum[start]) // (8 * BATCHES_PER_WORKER * workers)))
    out, a = [], start
    while a < n:
        files = max(floor, min(per, (n - a) // (BATCHES_PER_WORKER * workers)))
        nbytes = max(floor_bytes, min(BATCH_BYTES, (cum[n] - cum[a]) // (BATCHES_PER_WORKER * workers)))
        # the first b that brings the batch to its bytes, and at most its files
        b = min(a + files, max(a + 1, bisect_left(cum, cum[a] + nbytes, a + 1)))
        while glue and b < n and glue[b - 1]:
            b += 1
        b = min(b, n)
        out.append((a, b))
        a = b
    return out
