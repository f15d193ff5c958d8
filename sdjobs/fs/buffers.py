"""Read buffers that begin at a page boundary.

The kernel copies file data out of the page cache about ten times slower into a buffer that
begins 8 or 16 bytes past a page boundary than into one that begins at it, or 32 bytes or more
past it: 64 reads of 1 MiB of a cached file took 39 ms of CPU against 4 ms (this AMD EPYC,
2026-12-07). A ``bytearray`` of 128 KiB or more often lies just there: glibc serves it from a
mapping of its own, 16 bytes in (in each of the 5 threads I looked at; in the main thread until
glibc raises its mapping threshold). So the buffers
that whole files are read through are anonymous mappings, which begin at a page: `copy
--verify`'s thread for large files spent 110-133 ms of CPU on a 128 MiB file instead of
142-209 ms (5 fresh processes each; bench/results/copy.md, session 14).
"""

from __future__ import annotations

import mmap


def page_aligned(size: int) -> memoryview:
    """A writable buffer of ``size`` zero bytes that begins at a page boundary. Private: a
    process forked after it was made gets its own copy (on write), never a shared one."""
    return memoryview(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS))
