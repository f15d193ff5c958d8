"""dupes in one round over the workers: the walk sorts what it finds into shards
by size, and each shard is grouped, read and rendered by one worker.

Two files can only be duplicates if they have the same size, and so can only
be hard links of one another (one inode, one size): a shard that holds every
file of its sizes can settle them alone. So each chunk of walk tasks returns
its files cut into SHARDS shards (by size modulo a prime), packed
(``dupes.scan.pack``), with their bytes; the job only gathers the packed
pieces of each shard (no unpacking, no grouping of its own: that was a third
of a 200,000-file run's wall time, on one core, with the workers idle), and
hands the shards to the workers a few to a task (``tasks``), the most bytes
first: a worker (``settle_shard``) groups their files by size (hard links
collapsed as ``dupes.groups.size_groups`` does), stages each size group
(``dupes.hashing.staged_group``: first 4 KiB, last 4 KiB, full hash, the
same reads as the passes) and returns its groups rendered as results
(``dupes.hashing.render_settled``) and sorted.

It is the job's path for the plain search (``--mode hash``, no ``--then``,
no ``--bwlimit``, no ``--hardlinks``), when the index vouches for none of
the files, and no shard is more than a worker's share of the files or bytes
(one shard holds a whole size group: thousands of files of one size go pass
by pass, over every worker). The job checkpoints the tasks still to settle
and the groups found; a resumed job settles the rest.
"""

from __future__ import annotations

import os
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable

from .groups import BATCH_BYTES, BATCH_FILES, size_groups
from .hashing import render_settled, same_content, staged_group
from ...fs.rules import WalkRules
from .scan import Files, Filters, guided, plan_walk, unpack, walk_subtrees

SHARDS = 251  # a prime: sizes that are all multiples of a block (4096 and the like) still spread
SHARDS_PER_WORKER = 8  # tasks per worker, about, for balance; more for big searches (``tasks``)
SMALL_FILES, SMALL_BYTES = 4096, 256 << 20  # a search this small is over before balance matters
# Seconds each task waits before it is settled: lets tests stop a run between two tasks.
TEST_DELAY = float(os.environ.get("SDJOBS_DUPES_TEST_DELAY") or 0)


def cut(files: Files, count: int) -> list[tuple[tuple, int] | None]:
    """``files`` cut into ``count`` shards by size: per shard (packed files, their bytes), or None.
    The files are put in shard order once (a sort and a gather per column, in C), and each
    shard is a slice of that: a list per shard built a file at a time cost 3x the CPU."""
    n = len(files)
    if not n:
        return [None] * count
    keys = [s % count for s in files.sizes]
    order = sorted(range(n), key=keys.__getitem__)
    cols = [list(map(col.__getitem__, order)) for col in (files.paths, files.sizes, files.inos, files.devs,
                                                           files.mtimes, files.known)]
    paths, sizes, inos, devs, mtimes, known = cols
    arg = files.args[:1]
    out: list[tuple[tuple, int] | None] = [None] * count
    a = 0
    for k, m in sorted(Counter(keys).items()):
        b = a + m
        size_slice = sizes[a:b]
        any_known = any(known[a:b])
        out[k] = (("\0".join(paths[a:b]), *(array("q", c[a:b]).tobytes() for c in (sizes, inos, devs, mtimes)),
                   arg, m, "\0".join(known[a:b]) if any_known else ""), sum(size_slice))
        a = b
    return out


def cut_by_arg(files: Files, count: int) -> list[list[tuple[tuple, int] | None]]:
    """``cut`` of the files of each PATH argument apart (a pack keeps one argument for all its files)."""
    if not files.args or files.args.count(files.args[0]) == len(files.args):
        return [cut(files, count)]  # one argument (the usual case): no copy of the columns
    by: dict[int, list[int]] = {}
    for i, arg in enumerate(files.args):
        by.setdefault(arg, []).append(i)
    return [cut(files.take(ix), count) for ix in by.values()]


def settle_shard(task: tuple) -> tuple[list[tuple], list[tuple[str, str]], int, int]:
    """Worker: the duplicate groups of some shards, as (rendered groups sorted as the results
    are, (path, error) per file that could not be read, bytes read, candidates: files that
    shared their size with another inode). ``task``: (the shards' packed pieces, whether
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


def tasks(shards: list[tuple[list, int, int]], workers: int) -> list[list[int]]:
    """The shards to hand out, a few to a task: the most bytes first (so that the biggest
    overlap the rest), small shards together up to an even share of about SHARDS_PER_WORKER
    tasks per worker, and none of more than about a reading batch (``dupes.groups``: BATCH_FILES files, BATCH_BYTES bytes) unless one
    shard is: a task is what a pause waits for, and what progress moves by."""
    live = sorted((k for k, s in enumerate(shards) if s[1] > 1), key=lambda k: -shards[k][2])
    files = sum(shards[k][1] for k in live)
    nbytes = sum(shards[k][2] for k in live)
    n = max(SHARDS_PER_WORKER * max(1, workers), -(-files // BATCH_FILES), -(-nbytes // BATCH_BYTES))
    per_files, per_bytes = max(1, files // n), max(1, nbytes // n)
    out: list[list[int]] = []
    cur, f, b = [], 0, 0
    for k in live:
        cur.append(k)
        f += shards[k][1]
        b += shards[k][2]
        if f >= per_files or b >= per_bytes:
            out.append(cur)
            cur, f, b = [], 0, 0
    if cur:
        out.append(cur)
    return out


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


# -- the job's side ----------------------------------------------------------------
def scan(job, filters: Filters, workers: int, index) -> dict:
    """The job's walk (``job``: the dupes job running), its files cut into shards by size;
    the state that settles them, or the pass-by-pass one when a shard is too big a share
    for one worker, or when the index vouches for some of the files (``dupes.stored``:
    those are not read)."""
    c, ctx = job.config, job.ctx
    count = SHARDS
    top, stats, walk_tasks = plan_walk(c.paths, WalkRules.from_dict(c.rules), filters, workers,
                                       lambda path, problem: ctx.error(problem, path=path), ctx.check_interrupt,
                                       index=index, shards=count)
    found = gather(cut_by_arg(top, count), count)

    def walked():
        for chunk in ctx.map(walk_subtrees, guided(walk_tasks, workers), chunksize=1):
            for per_arg, st in chunk:
                stats.merge(st)
                yield per_arg

    found = gather(walked(), count, found, ctx.check_interrupt)
    for path, msg in stats.errors:
        ctx.error(msg, path=path)
    scanned = sum(s[1] for s in found)
    if not balanced(found, workers) or known(found):
        files = files_of(found)
        return job._group(files, len(files))
    return {"stage": "shards", "shards": found, "todo": tasks(found, workers), "scanned": scanned,
            "done": 0, "candidates": 0, "rendered": [], "read_bytes": 0}


def settle(job, state: dict) -> dict:
    """Settle the tasks left (``tasks``); the job's output. The groups stay on the job
    (``job.rendered``) for it to store."""
    c, ctx = job.config, job.ctx
    job.state = state
    job._last_cp, job._cp_cost = time.monotonic(), 0.0
    found, todo = state["shards"], list(state["todo"])
    ctx.phase("compare", message="comparing files of equal size", total=state["scanned"], unit="files")
    ctx.progress(done=state["done"])
    by_arg = len(c.paths) > 1
    work = (([p for k in ks for p in found[k][0]], by_arg) for ks in todo)
    runs = [state["rendered"]] if state["rendered"] else []
    for ks, (rendered, errors, nbytes, candidates) in zip(todo, ctx.map(settle_shard, work, chunksize=1),
                                                        strict=True):
        for path, msg in errors:
            ctx.error(msg, path=path)
        runs.append(rendered)
        n = sum(found[k][1] for k in ks)
        for k in ks:
            found[k] = [[], 0, 0]  # settled: nothing of it left to keep
        state["todo"].remove(ks)
        state["done"] += n
        state["candidates"] += candidates
        job.read_bytes += nbytes
        ctx.add_items(n)
        ctx.add_bytes(nbytes)
        ctx.progress(done=state["done"], bytes_done=job.read_bytes)
        ctx.check_interrupt()
        if job._checkpoint_due():
            state["rendered"] = merge(runs)
            runs = [state["rendered"]]
            job._maybe_checkpoint()
    rendered = merge(runs)
    job.groups, job.rendered, job.kept = [], rendered, None
    return {"mode": c.mode, "scanned": state["scanned"], "candidates": state["candidates"], "from_index": 0,
            "read_bytes": job.read_bytes, "groups": len(rendered),
            "duplicates": sum(-r[1] - 1 for r in rendered), "wasted": -sum(r[0] for r in rendered)}


def merge(runs: list[list]) -> list:
    """Sorted lists of rendered groups as one sorted list (lists after a checkpoint: tuples again)."""
    out = [tuple(r) for run in runs for r in run]
    out.sort()
    return out
