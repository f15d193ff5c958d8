"""Content hashing: Spacedrive-style sampled cas ids and full-file hashes.

All functions are module-level and take plain arguments, so they pickle and
can run in a process pool. They raise OSError like any file read; only
`hash_files` catches errors, per file, so one bad file does not sink a batch.

`cas_id(path, size)` follows Spacedrive's `generate_cas_id`
(core/crates/heavy-lifting/src/file_identifier/cas_id.rs) byte for byte in
what it feeds the hasher, with xxh3_64 in place of BLAKE3 (so the ids differ
from Spacedrive's, but the sampled regions are the same):

1. `size` as 8 little-endian bytes.
2. If size <= 100 KiB (102400): the whole file, read to EOF.
3. Otherwise, with J = (size - 2*8192) // 4:
   - header  [0, 8192)
   - samples [8192 + k*J, 8192 + k*J + 10240) for k = 0, 1, 2, 3
   - footer  the last 8192 bytes of the file as it is now (Spacedrive seeks
     from the end, so this uses fstat's size, not `size`).

The result is the 16-hex-digit xxh3_64 digest.
"""

from __future__ import annotations

import errno
import os
from typing import Literal, NamedTuple
from collections.abc import Iterable

import xxhash

from .buffers import page_aligned

SAMPLE_COUNT = 4
SAMPLE_SIZE = 10 * 1024
HEADER_OR_FOOTER_SIZE = 8 * 1024
MINIMUM_FILE_SIZE = 100 * 1024
# One buffer per process, reused: allocating (and the kernel zero-filling) a
# fresh one per call cost 2.7x the CPU on ~50 kB files. At a page boundary
# (fs/buffers.py): a bytearray of this size 16 bytes in read 3.4x slower.
FULL_CHUNK = 128 * 1024
_buffer: memoryview | None = None

_O_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_fadvise = getattr(os, "posix_fadvise", None)
_SEQUENTIAL = getattr(os, "POSIX_FADV_SEQUENTIAL", 0)
_ADVISE_FROM = 1 << 20  # a syscall per file costs more than readahead saves on small ones


class ShortReadError(OSError):
    """The file ended before a region that its size says must exist."""


class GrewError(OSError):
    """The file goes on past the size it was expected to have."""


def cas_sample_offsets(size: int) -> list[tuple[int, int]]:
    """(offset, length) of each region `cas_id` hashes for a file larger than
    100 KiB, footer included (relative to `size`)."""
    jump = (size - HEADER_OR_FOOTER_SIZE * 2) // SAMPLE_COUNT
    regions = [(0, HEADER_OR_FOOTER_SIZE)]
    regions += [(HEADER_OR_FOOTER_SIZE + k * jump, SAMPLE_SIZE) for k in range(SAMPLE_COUNT)]
    regions.append((size - HEADER_OR_FOOTER_SIZE, HEADER_OR_FOOTER_SIZE))
    return regions


def _pread_exact(fd: int, length: int, offset: int, path: str) -> bytes:
    data = os.pread(fd, length, offset)
    while len(data) < length:
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise ShortReadError(errno.EIO, f"file ended at {offset + len(data)}", path)
        data += more
    return data


def cas_id(path: str, size: int) -> str:
    """Sampled content id of `path` whose size is `size` (see module doc)."""
    h = xxhash.xxh3_64()
    h.update(size.to_bytes(8, "little"))
    fd = os.open(path, _O_FLAGS)
    try:
        if size <= MINIMUM_FILE_SIZE:
            while chunk := os.read(fd, MINIMUM_FILE_SIZE + 1):
                h.update(chunk)
        else:
            for offset, length in cas_sample_offsets(size)[:-1]:
                h.update(_pread_exact(fd, length, offset, path))
            end = os.fstat(fd).st_size
            if end < HEADER_OR_FOOTER_SIZE:
                raise ShortReadError(errno.EIO, "file shrank below the footer size", path)
            h.update(_pread_exact(fd, HEADER_OR_FOOTER_SIZE, end - HEADER_OR_FOOTER_SIZE, path))
    finally:
        os.close(fd)
    return h.hexdigest()


def full_hash(path: str) -> str:
    """xxh3_128 hex digest (32 digits) of the whole file."""
    fd = os.open(path, _O_FLAGS)
    try:
        if _fadvise is not None:
            try:
                _fadvise(fd, 0, 0, _SEQUENTIAL)
            except OSError:
                pass  # advisory only; some filesystems refuse it
        return full_hash_fd(fd)
    finally:
        os.close(fd)


def _read_buffer() -> memoryview:
    global _buffer
    if _buffer is None:
        _buffer = page_aligned(FULL_CHUNK)
    return _buffer


def full_hash_fd(fd: int, offset: int = 0) -> str:
    """``full_hash`` of an open file, read from ``offset`` (its start) to its end with
    ``preadv``: the descriptor's own position is neither used nor moved."""
    view = _read_buffer()
    h = xxhash.xxh3_128()
    while n := os.preadv(fd, [view], offset):
        h.update(view[:n])
        offset += n
    return h.hexdigest()


def read_sized(fd: int, size: int) -> str:
    """``full_hash`` of an open file expected to be ``size`` bytes long, read from its
    start: the last read asks one byte more than is left, as a regular file reads short
    only at its end, so that the end is found without a read that returns nothing (a
    system call a file). Raises ``ShortReadError`` if the file ended sooner, and
    ``GrewError`` if it goes on past ``size``."""
    view = _read_buffer()
    chunk = len(view)
    h = xxhash.xxh3_128()
    offset = 0
    while True:
        want = min(chunk, size - offset + 1)
        n = os.preadv(fd, [view[:want]], offset)
        if not n:
            if offset == size:
                return h.hexdigest()  # (the last read filled the buffer exactly)
            raise ShortReadError(errno.EIO, f"file ended at {offset}")
        offset += n
        if offset > size:
            raise GrewError(errno.EIO, f"size changed from {size} to {offset}+ bytes")
        h.update(view[:n])
        if offset == size and n < want:
            return h.hexdigest()


def full_hash_if_size(path: str, size: int) -> str | None:
    """``full_hash(path)`` if ``path`` is, when read, exactly ``size`` bytes
    long; None if it turns out longer or shorter (the caller looks closer).

    For checking many files against known sizes (validate): one open, one
    read for a file under 128 KiB (a regular file reads short only at its
    end), no stat, and never more than ``size`` + 128 KiB read. Symlinks are
    not followed (ELOOP) and FIFOs do not block; like every other error here,
    those raise OSError.
    """
    view = _read_buffer()
    chunk = len(view)
    fd = os.open(path, _O_FLAGS | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        n = os.readv(fd, [view])
        if n < chunk:
            return xxhash.xxh3_128_hexdigest(view[:n]) if n == size else None
        if _fadvise is not None and size >= _ADVISE_FROM:
            try:
                _fadvise(fd, 0, 0, _SEQUENTIAL)
            except OSError:
                pass
        h = xxhash.xxh3_128(view)
        got = n
        while n == chunk and got <= size:
            n = os.readv(fd, [view])
            h.update(view[:n])
            got += n
    finally:
        os.close(fd)
    return h.hexdigest() if got == size else None


def head_hash(path: str, n: int = 4096) -> str:
    """xxh3_64 hex digest of the first `n` bytes (fewer if the file is shorter)."""
    fd = os.open(path, _O_FLAGS)
    try:
        data = os.pread(fd, n, 0)
        while len(data) < n and (more := os.pread(fd, n - len(data), len(data))):
            data += more
    finally:
        os.close(fd)
    return xxhash.xxh3_64_hexdigest(data)


def tail_hash(path: str, size: int, n: int = 4096) -> str:
    """xxh3_64 hex digest of the `n` bytes ending at offset `size` (the whole
    of [0, size) if size < n). Raises ShortReadError if the file is shorter."""
    start = max(0, size - n)
    fd = os.open(path, _O_FLAGS)
    try:
        data = _pread_exact(fd, size - start, start, path)
    finally:
        os.close(fd)
    return xxhash.xxh3_64_hexdigest(data)


HashMode = Literal["cas", "full", "head", "tail"]


class HashResult(NamedTuple):
    """Outcome for one file of `hash_files`: a digest or an error text."""

    path: str
    digest: str | None
    error: str | None


def hash_one(item: str | tuple[str, int], mode: HashMode = "cas") -> HashResult:
    """Hash one file, catching OSError into the result. `item` is a path or
    (path, size); without a size, `cas` and `tail` stat the file."""
    path, size = (item, None) if isinstance(item, str) else item
    try:
        if mode == "full":
            digest = full_hash(path)
        elif mode == "head":
            digest = head_hash(path)
        else:
            if size is None:
                size = os.stat(path).st_size
            digest = cas_id(path, size) if mode == "cas" else tail_hash(path, size)
    except OSError as exc:
        return HashResult(path, None, f"{type(exc).__name__}: {exc}")
    return HashResult(path, digest, None)


def hash_files(items: Iterable[str | tuple[str, int]], mode: HashMode = "cas") -> list[HashResult]:
    """Hash a batch of files (one unit of work for a process pool)."""
    if mode not in ("cas", "full", "head", "tail"):
        raise ValueError(f"unknown hash mode {mode!r}")
    return [hash_one(item, mode) for item in items]
