"""Digests as strings, the form dupes and validate compare and store: ``F`` + the
xxh3-128 hex of the whole content (the value ``hashing.full_hash`` gives and the
index stores), ``H``/``T`` + xxh3-64 of the first/last 4 KiB, ``C`` + the sampled
cas id."""

from __future__ import annotations

import os

import xxhash

from .hashing import cas_id, full_hash, head_hash, tail_hash

# Files up to this size are read whole in the first pass: one open and one
# read give the final xxh3-128, where head + tail + full would open it three times.
WHOLE = 32 * 1024
EDGE = 4096
O_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOATIME", 0)


class Changed(OSError):
    """The file's size is not what the scan saw: it changed under us."""


def open_read(path: str) -> int:
    """A descriptor to read ``path`` without touching its access time where we may."""
    try:
        return os.open(path, O_FLAGS)
    except PermissionError:
        return os.open(path, O_FLAGS & ~getattr(os, "O_NOATIME", 0))  # O_NOATIME needs ownership


def read_exact(fd: int, n: int, size: int, data: bytes = b"") -> bytes:
    """``data`` followed by the next ``n`` bytes of ``fd``, the file expected to end
    there at ``size`` bytes: one read call (asking one byte more, as a regular file
    reads short only at its end); raises Changed if it does not."""
    want = len(data) + n
    data += os.read(fd, n + 1)
    while len(data) < want:
        more = os.read(fd, want + 1 - len(data))
        if not more:
            break
        data += more
    if len(data) != want:
        got = len(data) - want + size
        raise Changed(f"size changed from {size} to {got}{'+' if got > size else ''} bytes")
    return data


def read_whole(path: str, size: int) -> str:
    """``F`` digest of a small file, read in one go; raises Changed if its size moved."""
    fd = open_read(path)
    try:
        data = read_exact(fd, size, size)
    finally:
        os.close(fd)
    return "F" + xxhash.xxh3_128_hexdigest(data)


def full_hex(path: str) -> str:
    return full_hash(path)


def digest(kind: str, path: str, size: int) -> str:
    """One file's digest of the given kind: F (whole), H (head), T (tail), C (cas id)."""
    if kind == "F":
        return read_whole(path, size) if size <= WHOLE else "F" + full_hex(path)
    if kind == "H":
        return "H" + head_hash(path, EDGE)
    if kind == "T":
        return "T" + tail_hash(path, size, EDGE)
    if kind == "C":
        return "C" + cas_id(path, size)
    raise ValueError(f"unknown digest kind {kind!r}")
