"""Worker-side functions of the dupes job: module level, so they pickle.

Each takes one *batch* (a chunk of files), so that a ``ctx.map`` item is a
big unit of work and the per-item cost of the pool is paid once per batch.
Errors are caught per file and returned as text; they never sink a batch.

Digests are strings (``fs/digests.py``).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable

import xxhash

from ...fs.digests import EDGE, WHOLE, Changed, digest, full_hex, open_read, read_exact, read_whole  # noqa: F401
from ...fs.digests import O_FLAGS as _O_FLAGS
from ...fs.hashing import head_hash, read_sized, tail_hash


class Pacer:
    """Keeps a worker's reads to a schedule the job hands out with each batch,
    (start, bytes per second): the batch starts no earlier than ``start``, and
    each read waits until the bytes before it would have been read at that
    rate. The job gives consecutive batches consecutive slots, so all workers
    together read no faster than the limit, whichever runs what. No schedule:
    no waiting."""

    def __init__(self, pace: tuple[float, float] | None) -> None:
        self.start, self.rate = pace if pace else (0.0, 0.0)
        self.done = 0

    def wait(self) -> None:
        if self.rate:
            delay = self.start + self.done / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def read(self, nbytes: int) -> None:
        self.done += nbytes


NO_PACE = Pacer(None)
PACED_CHUNK = 256 * 1024  # the grain of a paced full read


def read_cost(kind: str, size: int) -> int:
    """Bytes ``digest`` reads for one file (``dupes.groups.cost`` plans with the same)."""
    if kind in ("H", "T"):
        return min(size, EDGE)
    if kind == "C":
        return size if size <= 100 * 1024 else 57344
    return size


def paced_full_hex(path: str, pacer: Pacer) -> str:
    """``full_hex`` read chunk by chunk on the pacer's schedule (a big file is not one burst)."""
    h = xxhash.xxh3_128()
    fd = os.open(path, _O_FLAGS & ~getattr(os, "O_NOATIME", 0))
    try:
        while True:
            pacer.wait()
            chunk = os.read(fd, PACED_CHUNK)
            if not chunk:
                break
            h.update(chunk)
            pacer.read(len(chunk))
    finally:
        os.close(fd)
    return h.hexdigest()


def paced_digest(kind: str, path: str, size: int, pacer: Pacer) -> str:
    """``digest`` on the pacer's schedule."""
    if kind == "F" and size > WHOLE and pacer.rate:
        return "F" + paced_full_hex(path, pacer)
    pacer.wait()
    try:
        return digest(kind, path, size)
    finally:
        pacer.read(read_cost(kind, size))



def hash_batch(batch: tuple) -> tuple[list[str | None], list[tuple[int, str]], int, list]:
    """Digests of a batch given as (kinds, NUL-joined paths, sizes[, pace[, render]]):
    one digest per file (None if it failed, or if settled here), (position, error
    text) per failure, the bytes read for the ``S`` files, and the groups settled
    here. Joined strings pickle in one piece, much faster than lists of them.

    Consecutive ``S`` files of one size are one whole size group, staged here
    as the job would stage it over three passes (see ``staged_group``) and
    *settled* here: what comes back for them is not a digest per file but the
    groups of identical content, as (digest, positions), or, with ``render``
    (see ``render_settled``), as rendered results. The job then neither
    regroups nor renders them, which on a tree of small files was most of its
    own (single-core) time."""
    kinds, joined, sizes = batch[:3]
    pacer = Pacer(batch[3]) if len(batch) > 3 else NO_PACE
    render = batch[4] if len(batch) > 4 else None
    paths = joined.split("\0")
    out: list[str | None] = []
    errors: list[tuple[int, str]] = []
    settled: list = []
    staged_bytes = 0
    append = out.append
    pos, n = 0, len(paths)
    while pos < n:
        kind, size = kinds[pos], sizes[pos]
        if kind == "S":
            end = pos + 1
            while end < n and kinds[end] == "S" and sizes[end] == size:
                end += 1
            keys, errs, nbytes = staged_group(paths[pos:end], size, pacer)
            out += [None] * (end - pos)
            errors += [(pos + i, e) for i, e in errs]
            staged_bytes += nbytes
            for digest, members in same_content(keys):
                members = [pos + i for i in members]
                settled.append(render_settled(render, paths, size, digest, members) if render
                               else (digest, members))
            pos = end
            continue
        try:
            append(paced_digest(kind, paths[pos], size, pacer))
        except OSError as exc:
            append(None)
            errors.append((pos, _describe(exc)))
        pos += 1
    return out, errors, staged_bytes, settled


def same_content(keys: list[str | None]) -> list[tuple[str, list[int]]]:
    """(full digest, positions) of each full digest that 2+ keys share, in order."""
    shared = [k for k, n in Counter(keys).items() if n > 1 and k is not None and k[0] == "F"]
    if not shared:
        return []
    by: dict[str, list[int]] = {k: [] for k in shared}
    get = by.get
    for i, k in enumerate(keys):
        m = get(k)
        if m is not None:
            m.append(i)
    return [(k[1:], members) for k, members in by.items()]


def render_settled(render: tuple, paths: list[str], size: int, digest: str, members: list[int]) -> tuple:
    """A settled group as the job keeps rendered results, (-wasted, -count, first
    path, size, digest, JSON text) (see ``dupes.results.render_group``), its
    paths in results order: by path, or by (argument, path) when ``render``
    carries each file's argument position."""
    from .results import render_group

    args = render[0] if render else None
    names = sorted(members, key=(lambda i: (args[i], paths[i])) if args else paths.__getitem__)
    names = list(map(paths.__getitem__, names))
    wasted = size * (len(names) - 1)
    return (-wasted, -len(names), names[0], size, digest, render_group(size, digest, wasted, names))


def staged_group(paths: list[str], size: int,
                 pacer: Pacer = NO_PACE) -> tuple[list[str | None], list[tuple[int, str]], int]:
    """A whole size group at once: the first 4 KiB of each file, the last
    4 KiB of those whose first ones collide, the full hash of those whose both
    collide; the same reads as three passes over it, in one task. Files of up
    to ``HEADS_FROM`` bytes are read whole at once instead, and files of up to
    ``WHOLE`` bytes are read on from their first 4 KiB (``_staged_heads``).
    Keys: ``H`` + head, ``T`` + head + tail, or ``F`` + full hash (only equal
    keys can be the same content); None for a file that could not be read."""
    if size <= HEADS_FROM and not pacer.rate:
        return _whole_keys(paths, size)
    if HEADS_FROM < size <= WHOLE:
        return _staged_heads(paths, size, pacer)
    if size > WHOLE and not pacer.rate:
        return _staged_edges(paths, size)
    keys: list[str | None] = [None] * len(paths)
    errors: list[tuple[int, str]] = []
    nbytes = 0
    edge = min(size, EDGE)
    todo = list(range(len(paths)))
    for step in (("W",) if size <= HEADS_FROM else ("H", "T", "F")):
        for i in todo:
            try:
                if step != "F" or not pacer.rate:
                    pacer.wait()
                if step == "W":
                    keys[i] = read_whole(paths[i], size)
                    nbytes += size
                    pacer.read(size)
                    continue
                if step == "H":
                    keys[i] = "H" + head_hash(paths[i], EDGE)
                    nbytes += edge
                elif step == "T":
                    keys[i] = "T" + keys[i][1:] + tail_hash(paths[i], size, EDGE)
                    nbytes += edge
                elif pacer.rate:
                    keys[i] = "F" + paced_full_hex(paths[i], pacer)
                    nbytes += size
                    continue  # counted by the pacer as it read
                else:
                    keys[i] = "F" + full_hex(paths[i])
                    nbytes += size
                pacer.read(edge if step != "F" else size)
            except OSError as exc:
                keys[i] = None
                errors.append((i, _describe(exc)))
        seen: dict[str, int] = {}
        for i in todo:
            if keys[i] is not None:
                seen[keys[i]] = seen.get(keys[i], 0) + 1
        todo = [i for i in todo if keys[i] is not None and seen[keys[i]] > 1]
        if not todo:
            break
    return keys, errors, nbytes


def _whole_keys(paths: list[str], size: int) -> tuple[list[str | None], list[tuple[int, str]], int]:
    """``staged_group`` of files of up to EDGE bytes without --bwlimit: each file read
    whole, one open, one read, one close, in a loop with nothing else per file (on
    ``small`` of bench/dupes_data.py, this loop's own Python was as much again as
    its three system calls). A file that fails or reads other than ``size`` bytes is
    read again the careful way (``read_whole``), which says what went wrong."""
    keys: list[str | None] = [None] * len(paths)
    errors: list[tuple[int, str]] = []
    done = 0
    open_, read, close, flags, hexdigest = os.open, os.read, os.close, _O_FLAGS, xxhash.xxh3_128_hexdigest
    want = size + 1  # a regular file reads short only at its end: one call, and a longer file shows
    for i, path in enumerate(paths):
        try:
            fd = open_(path, flags)
            try:
                data = read(fd, want)
            finally:
                close(fd)
            if len(data) == size:
                keys[i] = "F" + hexdigest(data)
                done += 1
                continue
        except OSError:
            pass
        try:
            keys[i] = read_whole(path, size)
            done += 1
        except OSError as exc:
            errors.append((i, _describe(exc)))
    return keys, errors, done * size


# Files of up to this size are read whole even when alone with their first 4 KiB:
# reading on from 4 KiB costs a read call more for each file that must be read
# whole, and up to 8 KiB saves less than that (one process, files of 4-8 KiB of
# bench/dupes_data.py's ``small`` in size-group order, CPU per file: read whole
# 7.1 us; first 4 KiB only 5.5 us; first 4 KiB, then the rest after 200 others
# 8.2 us). Bigger files have more to save: head first.
HEADS_FROM = 2 * EDGE
HELD = 256  # descriptors a worker keeps open at most for ``_staged_heads``


def _staged_heads(paths: list[str], size: int,
                  pacer: Pacer = NO_PACE) -> tuple[list[str | None], list[tuple[int, str]], int]:
    """``staged_group`` of files of HEADS_FROM to WHOLE bytes: the first 4 KiB of each,
    and the rest of those whose first 4 KiB collide, read on from the same descriptor.

    A file's descriptor stays open after its first 4 KiB while it is the only one
    with them (up to HELD such, the oldest closed first): when a second file
    matches it, both read on, one ``read`` each. So a file read whole costs one
    open, two reads and one close, and a file alone with its first 4 KiB (most
    of them) is 4 KiB read instead of all of it (``lognormal`` of bench/dupes_data.py
    read 2,019 MB for the 1,120 MB that any tool must read when they were read whole)."""
    n = len(paths)
    keys: list[str | None] = [None] * n
    errors: list[tuple[int, str]] = []
    nbytes = 0
    first: dict[str, int] = {}  # head key -> the first file with it
    held: dict[int, tuple[int, bytes]] = {}  # that file -> (its open descriptor, its first 4 KiB)
    rest = size - EDGE
    hexdigest, full = xxhash.xxh3_64_hexdigest, xxhash.xxh3_128_hexdigest
    paced, open_, read, flags = bool(pacer.rate), os.open, os.read, _O_FLAGS

    def settle(j: int) -> None:  # the first file of a head, read on (again, if its descriptor was closed)
        nonlocal nbytes
        fd, head = held.pop(j, (-1, b""))
        try:
            pacer.wait()
            if fd < 0:
                keys[j] = read_whole(paths[j], size)
                nbytes += size
                pacer.read(size)
            else:
                keys[j] = "F" + full(read_exact(fd, rest, size, head))
                nbytes += rest
                pacer.read(rest)
        except OSError as exc:
            keys[j] = None
            errors.append((j, _describe(exc)))
        finally:
            if fd >= 0:
                os.close(fd)

    try:
        for i in range(n):
            if paced:
                pacer.wait()
            try:
                try:
                    fd = open_(paths[i], flags)
                except PermissionError:
                    fd = open_read(paths[i])
            except OSError as exc:
                errors.append((i, _describe(exc)))
                continue
            try:
                head = read(fd, EDGE)
                while len(head) < EDGE and (more := read(fd, EDGE - len(head))):
                    head += more
                nbytes += len(head)
                if paced:
                    pacer.read(len(head))
                if len(head) < EDGE:
                    raise Changed(f"size changed from {size} to {len(head)} bytes")
                key = "H" + hexdigest(head)
                j = first.get(key)
                if j is None:
                    first[key] = i
                    keys[i] = key
                    held[i] = (fd, head)
                    fd = -1  # held open
                    if len(held) > HELD:
                        old, (ofd, _) = next(iter(held.items()))
                        del held[old]
                        os.close(ofd)
                    continue
                keys[i] = "F" + full(read_exact(fd, rest, size, head))
                nbytes += rest
                if paced:
                    pacer.read(rest)
            except OSError as exc:
                keys[i] = None
                errors.append((i, _describe(exc)))
                continue
            finally:
                if fd >= 0:
                    os.close(fd)
            if keys[j] is not None and keys[j][0] == "H":
                settle(j)
    finally:
        for fd, _ in held.values():
            os.close(fd)
    return keys, errors, nbytes


def _staged_edges(paths: list[str], size: int) -> tuple[list[str | None], list[tuple[int, str]], int]:
    """``staged_group`` of files above WHOLE bytes without --bwlimit: the same three steps
    and the same bytes (first 4 KiB, last 4 KiB, whole), each file opened once: its
    descriptor stays open from its first 4 KiB to its last step (HELD at most; a file
    past that is opened again for its next step). Three opens for each file read whole
    were a fifth of this stage's CPU on ``mixed`` of bench/dupes_data.py.

    Each step is a loop of its own, with no closure call per read in the common case (a
    file read as the scan saw it), and the whole file is read to ``size`` and one byte more
    (``read_sized``), not to a read that returns nothing: 87.8 against 91.6 ms of CPU for
    the 7,445 files of 32 KiB-1 MiB of ``mixed`` (one process, medians of 7), where bare
    loops of the same system calls and hashes took 80-90 ms."""
    n = len(paths)
    keys: list[str | None] = [None] * n
    errors: list[tuple[int, str]] = []
    fds: dict[int, int] = {}  # file -> its descriptor, open from its first 4 KiB to its last step
    hexdigest, pread, close = xxhash.xxh3_64_hexdigest, os.pread, os.close
    nbytes = 0

    def failed(i: int, exc: OSError) -> None:
        keys[i] = None
        errors.append((i, _describe(exc)))
        fd = fds.pop(i, -1)
        if fd >= 0:
            close(fd)

    def fd_of(i: int) -> int:
        fd = fds.get(i)
        if fd is None:
            fd = open_read(paths[i])
            if len(fds) < HELD:
                fds[i] = fd
        return fd

    try:
        for i in range(n):  # the first 4 KiB of each (as ``head_hash``: a file that shrank has other ones)
            try:
                fd = fd_of(i)
                try:
                    head = pread(fd, EDGE, 0)
                    if len(head) < EDGE:
                        head += _pread_upto(fd, EDGE - len(head), len(head))
                finally:
                    if fds.get(i) != fd:
                        close(fd)
            except OSError as exc:
                failed(i, exc)
                continue
            keys[i] = "H" + hexdigest(head)
            nbytes += len(head)
        todo = _shared(keys, range(n), fds)
        for i in todo:  # the last 4 KiB of those whose first ones collide
            try:
                fd = fd_of(i)
                try:
                    tail = pread(fd, EDGE, size - EDGE)
                    if len(tail) < EDGE:
                        tail += _pread_upto(fd, EDGE - len(tail), size - EDGE + len(tail))
                finally:
                    if fds.get(i) != fd:
                        close(fd)
                if len(tail) < EDGE:  # as ``tail_hash`` says it
                    raise Changed(f"file ended at {size - EDGE + len(tail)}")
            except OSError as exc:
                failed(i, exc)
                continue
            keys[i] = "T" + keys[i][1:] + hexdigest(tail)  # type: ignore[index]
            nbytes += EDGE
        for i in _shared(keys, todo, fds):  # the whole of those whose both collide
            try:
                fd = fds.pop(i, -1)
                if fd < 0:
                    fd = open_read(paths[i])
                try:
                    keys[i] = "F" + read_sized(fd, size)
                finally:
                    close(fd)
            except OSError as exc:
                failed(i, exc)
                continue
            nbytes += size
    finally:
        for fd in fds.values():
            close(fd)
    return keys, errors, nbytes


def _shared(keys: list[str | None], among: Iterable[int], fds: dict[int, int]) -> list[int]:
    """Those of ``among`` whose key another of them shares; the descriptors of the others closed."""
    among = [i for i in among if keys[i] is not None]
    seen = Counter(map(keys.__getitem__, among))
    out = []
    for i in among:
        if seen[keys[i]] > 1:
            out.append(i)
        else:
            fd = fds.pop(i, -1)
            if fd >= 0:
                os.close(fd)  # alone with its key: read no more of it
    return out


def _pread_upto(fd: int, length: int, offset: int) -> bytes:
    """Up to ``length`` bytes at ``offset``, fewer only where the file ends."""
    data = b""
    while len(data) < length and (more := os.pread(fd, length - len(data), offset + len(data))):
        data += more
    return data


def compare_group(paths: list[str], size: int,
                  pacer: Pacer = NO_PACE) -> tuple[list[list[int]], list[tuple[int, str]]]:
    """Byte-for-byte partition of files believed identical (``--mode deep``):
    lists of positions in ``paths`` whose bytes are equal, and (position,
    error) for files that could not be read."""
    classes: list[list[int]] = []
    errors: list[tuple[int, str]] = []
    for pos, path in enumerate(paths):
        try:
            for members in classes:
                if _same_bytes(paths[members[0]], path, pacer):
                    members.append(pos)
                    break
            else:
                os.close(os.open(path, _O_FLAGS & ~getattr(os, "O_NOATIME", 0)))
                classes.append([pos])
        except OSError as exc:
            errors.append((pos, _describe(exc)))
    return classes, errors


def compare_groups(batch) -> list[tuple[list[list[int]], list[tuple[int, str]]]]:
    """``compare_group`` over a batch of groups, given as a list of (paths, size),
    or as (that list, pace) for --bwlimit (see ``Pacer``)."""
    groups, pace = batch if isinstance(batch, tuple) else (batch, None)
    pacer = Pacer(pace)
    return [compare_group(paths, size, pacer) for paths, size in groups]


def _same_bytes(a: str, b: str, pacer: Pacer = NO_PACE, chunk: int = 1 << 20) -> bool:
    with open(a, "rb", buffering=0) as fa, open(b, "rb", buffering=0) as fb:
        while True:
            pacer.wait()
            x = fa.read(chunk)
            y = fb.read(chunk)
            pacer.read(len(x) + len(y))
            if x != y:
                return False
            if not x:
                return True


def _describe(exc: OSError) -> str:
    if isinstance(exc, Changed):
        return str(exc)
    return exc.strerror or str(exc) or type(exc).__name__
