"""dupes over an indexed location: groups from the stored full hashes, after
checking that the tree still is what the index describes.

Checking costs one lstat per entry, whatever is done: the workers walk the
tree with the location's rules and add up each directory's digest exactly
as the indexer does (``fs.walker.child_key``: name, size, inode, device,
mode and mtime of every direct child). A directory whose digest matches the
stored one has its files vouched for as they are stored; only the children
of one that does not are compared one by one with their rows: a file that
differs (or is new) is *fresh* and will be read, and the stored files that
are not on disk any more (or differ) are *untrusted* and left out.

Meanwhile other workers group the stored hashes, each a share of the hash
space, and send back finished groups, already rendered as JSON; they are
kept for the next run over the same index (``dupes.cache``), which then
only checks the tree. With no fresh or untrusted file that is the answer.
Otherwise the groups that a change can touch (the sizes of the fresh
files, the hashes of the untrusted ones) are dropped and worked out again by
the job's usual passes, with the stored hashes of their other files.

Used for one directory inside a location that was indexed with its full
hashes, recursively, with the same walk rules, in ``--mode hash`` without
``--hardlinks`` or ``--ext``; anything else takes the general path.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from itertools import compress, pairwise
from json.encoder import encode_basestring_ascii as _js
from typing import Any

from ...core import codec
from ...fs.rules import WalkRules
from . import cache, verify

HASH_SHARES = ("0", "8", "g")  # the shares of the hash space grouped apart (lower-case hex digests)
TASKS_PER_WORKER = 4    # walk tasks per worker: each costs a fan-out token round trip


@dataclasses.dataclass
class Plan:
    reader: Any          # the index's worker-side reads (``store/index_reader.py:IndexReader``)
    location_id: int
    loc_root: str        # real path of the location's root
    real: str            # real path of the searched directory
    given: str           # the same directory as the user spelled it
    rules: dict
    min_size: int
    max_size: int | None
    with_mtimes: bool
    loc_state: tuple = ()   # the location's row as its last index run left it (``dupes_queries.location_of``)
    since: float = 0.0      # time.time() before that row was read

    def to_given(self, real_path: str) -> str:
        return real_path if self.given == self.real else self.given + real_path[len(self.real):]


def plan(c, reader) -> Plan | None:
    """The fast path's plan for this configuration, or None when it does not apply."""
    if c.mode != "hash" or c.hardlinks or c.ext or len(c.paths) != 1 or reader is None:
        return None
    given = c.paths[0].rstrip("/") or "/"
    real = os.path.realpath(given)
    if not os.path.isdir(real):
        return None
    since = time.time()
    try:
        row = reader.location_of(real)
        if row is None:
            return None
        loc_id, loc_path, rules, full_hash, max_depth, recurse, loc_state = row
        if not full_hash or max_depth is not None or not recurse or reader.indexing(loc_id):
            return None
    except Exception:  # noqa: BLE001 - no library, no index tables, or a library being migrated
        return None
    mine = WalkRules.from_dict(c.rules).to_dict()
    if WalkRules.from_dict(codec.unpack(rules) or {}).to_dict() != mine:
        return None
    return Plan(reader, loc_id, os.fsdecode(loc_path), real, given, mine, c.min_size, c.max_size,
                c.then != "none", tuple(loc_state), since)


# -- worker: groups of stored hashes -------------------------------------------------------
def group_stored(p: Plan, hash_lo: str, hash_hi: str) -> tuple[list[tuple], int, list[tuple]]:
    """Worker: groups of 2+ distinct files (one path per inode, the first by
    path) among the stored files with a full hash in [hash_lo, hash_hi) (a
    share of the hash space: a group never spans two), as [(-wasted, -count,
    first path, size, hash, JSON text)] sorted as the results are; the
    number of files looked at; and from the first share, the stored files
    without a full hash (unreadable when indexed: to be read now) as (path,
    size, inode, device, mtime_ns). The per-file steps are C iterators over the
    concatenated columns: Python loops only over the files that collide."""
    lo, hi = _range(p.real)
    first = hash_lo == HASH_SHARES[0]
    got = p.reader.hashed_concat(p.location_id, lo, hi, p.min_size, p.max_size, hash_lo, hash_hi,
                                 p.with_mtimes, first)
    unhashed = [(os.fsdecode(path), *rest) for path, *rest in
                p.reader.unhashed(p.location_id, lo, hi, p.min_size, p.max_size)] if got[4] else []
    if got[0] is None:
        return [], 0, unhashed
    keys = got[0].split(b",")
    counts = Counter(keys)
    collide = list(map((1).__lt__, map(counts.__getitem__, keys)))
    ckeys = list(compress(keys, collide))
    idents = list(compress(got[1].split(b","), collide))
    paths = list(compress(got[2].decode("utf-8", "surrogateescape").split("\0"), collide))
    mtimes = list(map(int, compress(got[3].split(b","), collide))) if p.with_mtimes else None
    if p.given != p.real:
        given, cut = p.given, len(p.real)
        paths = [given + x[cut:] for x in paths]
    quoted = list(map(_js, paths))
    linked: set[bytes] = set()  # keys of the groups with hard links in them
    per_ident = Counter(idents)
    if len(per_ident) < len(idents):
        shared = {x for x, n in per_ident.items() if n > 1}
        linked = set(compress(ckeys, map(shared.__contains__, idents)))
    by_key: dict[bytes, list[int]] = {}
    for i, k in enumerate(ckeys):
        g = by_key.get(k)
        if g is None:
            by_key[k] = [i]
        else:
            g.append(i)
    out = []
    for k, members in by_key.items():
        if k in linked:  # the first name of each inode
            first: dict[bytes, int] = {}
            for i in members:
                first.setdefault(idents[i], i)
            members = sorted(first.values())
            if len(members) < 2:
                continue
        n = len(members)
        size = int(k[32:])
        wasted = size * (n - 1)
        text = _GROUP % (size, k[:32].decode(), wasted, ",".join([quoted[i] for i in members]))
        if mtimes is not None:
            text = text[:-1] + ',"mtimes":[%s]}' % ",".join([str(mtimes[i]) for i in members])  # noqa: UP031 - JSON
        out.append((-wasted, -n, paths[members[0]], size, k[:32].decode(), text))
    out.sort()
    return out, len(keys), unhashed


_GROUP = '{"size":%d,"hash":"%s","wasted":%d,"paths":[%s]}'


def run_task(task: tuple):
    """The one function of the fan-out: groupings of stored hashes, and walks."""
    if task[0] == "group":
        return group_stored(*task[1:])
    return verify.verify_units(*task[1:])


def _range(real: str) -> tuple[bytes, bytes]:
    prefix = os.fsencode(real.rstrip("/")) + b"/"
    return prefix, prefix[:-1] + b"0"  # '0' is the byte after '/'


# -- the job's side -------------------------------------------------------------------------
@dataclasses.dataclass
class Answer:
    groups: list[tuple]            # rendered groups no change can touch
    files: list[tuple]             # (path, size, inode, device, mtime_ns, known digest) to group again
    scanned: int
    in_groups: int                 # files of the rendered groups
    errors: list[tuple[str, str]]
    kept: cache.Kept | None = None  # all the groups, kept from an earlier run (``groups`` is then empty)


def answer(p: Plan, mapper, workers: int, check) -> Answer:
    """Verify the tree and group the stored hashes (or take the groups kept
    from an earlier run over the same index), all in the workers."""
    kept = cache.lookup(p)
    tasks: list[tuple] = [] if kept else [("group", p, a, b) for a, b in pairwise(HASH_SHARES)]
    todo, lean = verify.units(p, workers)
    per = -(-len(todo) // (workers * TASKS_PER_WORKER))
    tasks += [("walk", p, todo[i:i + per], lean) for i in range(0, len(todo), per)]
    groups: list[tuple] = []
    unhashed: list[tuple] = list(kept.unhashed) if kept else []
    scanned, fresh, untrusted, trees, errors = 0, [], [], [], []
    for (kind, *_), res in zip(tasks, mapper(run_task, tasks, 1), strict=True):
        if kind == "group":
            groups += res[0]
            unhashed += res[2]
        else:
            scanned += res["files"]
            fresh += res["fresh"]
            untrusted += res["untrusted"]
            trees += res["untrusted_trees"]
            errors += res["errors"]
        check()
    if kept is None:
        groups.sort()  # each share's were sorted: a merge
        cache.save(p, p.since, groups, unhashed)
    fresh += _unhashed(unhashed, fresh, untrusted, trees)
    if kept is not None and not (fresh or untrusted or trees or p.with_mtimes):
        return Answer([], [], scanned, kept.in_groups, errors, kept)  # the kept results file as it is
    if kept is not None:
        loaded = kept.load()
        groups = loaded if loaded is not None else _group_here(p)
    files: list[tuple] = []
    if fresh or untrusted or trees:
        groups, files = _regroup_changed(p, groups, fresh, untrusted, trees)
    return Answer(groups, files, scanned, sum(-g[1] for g in groups), errors)


def _group_here(p: Plan) -> list[tuple]:
    """The groups of stored hashes, worked out in this process (kept ones went meanwhile)."""
    out: list[tuple] = []
    for a, b in pairwise(HASH_SHARES):
        out += group_stored(p, a, b)[0]
    out.sort()
    return out


def _unhashed(rows: list[tuple], fresh: list[tuple], untrusted: list[bytes], trees: list[bytes]) -> list[tuple]:
    """The stored files without a full hash that are still as stored: fresh too."""
    if not rows:
        return []
    have = {os.fsencode(f[0]) for f in fresh} | set(untrusted)
    cut = [(t.rstrip(b"/") + b"/", t.rstrip(b"/") + b"0") for t in trees]
    return [row for row in rows if os.fsencode(row[0]) not in have
            and not any(a <= os.fsencode(row[0]) < b for a, b in cut)]


def _regroup_changed(p: Plan, groups: list[tuple], fresh: list[tuple], untrusted: list[bytes],
                     trees: list[bytes]) -> tuple[list[tuple], list[tuple]]:
    """Drop the groups a change can touch; the files to group again instead:
    the fresh ones, and the trusted stored ones of the same sizes."""
    lo, hi = _range(p.real)
    tree_ranges = [(t.rstrip(b"/") + b"/", t.rstrip(b"/") + b"0") for t in trees]
    touched = p.reader.keys_of(p.location_id, untrusted, tree_ranges)
    sizes = {f[1] for f in fresh} | {s for s, _ in touched}
    rows = p.reader.hashed_of_sizes(p.location_id, lo, hi, sizes) if sizes else []
    bad = set(untrusted)
    fresh_sizes = {f[1] for f in fresh}
    kept = [g for g in groups if g[3] not in fresh_sizes and (g[3], g[4]) not in touched]
    lo_size, hi_size = p.min_size, p.max_size
    files = [(p.to_given(path), size, ino, dev, mtime, "") for path, size, ino, dev, mtime in fresh]
    for path_b, size, ino, dev, mtime, digest in rows:
        if path_b in bad or any(a <= path_b < b for a, b in tree_ranges):
            continue
        if size < lo_size or (hi_size is not None and size > hi_size):
            continue
        if size in fresh_sizes or (size, digest) in touched:
            files.append((p.to_given(os.fsdecode(path_b)), size, ino, dev, mtime, "F" + digest))
    return kept, files
