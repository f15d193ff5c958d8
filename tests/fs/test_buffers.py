"""fs/buffers.py: the read buffers begin at a page and are not shared with a fork."""

import ctypes
import mmap
import os

from sdjobs.fs import copyfile, hashing
from sdjobs.fs.buffers import page_aligned


def _address(view: memoryview) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def test_a_buffer_begins_at_a_page_and_holds_zeros():
    for size in (4096, 128 * 1024, 256 * 1024 + 1):
        buf = page_aligned(size)
        assert len(buf) == size
        assert _address(buf) % mmap.PAGESIZE == 0
        assert not any(buf[:64]) and not any(buf[-64:])


def test_a_forked_child_writes_its_own_copy_not_the_parents():
    buf = page_aligned(8192)
    buf[:5] = b"first"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child writes its buffer, then says what it sees there
        try:
            buf[:5] = b"child"
            os.write(w, bytes(buf[:5]))
        finally:
            os._exit(0)
    os.close(w)
    seen = os.read(r, 5)
    os.close(r)
    os.waitpid(pid, 0)
    assert seen == b"child"
    assert bytes(buf[:5]) == b"first"  # a shared mapping would show the child's write here


def test_the_full_reads_go_through_page_aligned_buffers(tmp_path):
    path = tmp_path / "f"
    data = os.urandom(300 * 1024)
    path.write_bytes(data)
    assert hashing.full_hash(str(path)) == hashing.full_hash_if_size(str(path), len(data))
    assert _address(hashing._read_buffer()) % mmap.PAGESIZE == 0
    assert _address(copyfile._get_buffer()) % mmap.PAGESIZE == 0
