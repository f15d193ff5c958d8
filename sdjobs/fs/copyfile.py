"""Copying one entry safely: temp name, kernel fast path, metadata, rename.

Nothing is ever visible under its final name before it is complete: data goes
to ``.NAME.sdjobs-JOB.part`` in the destination directory, gets its mode,
owner and times, and is renamed into place. A large copy can stop at any
chunk and continue from an offset after the part already written is checked.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Callable

import xxhash

CHUNK = 64 * 1024 * 1024  # kernel copy step between checks for interrupts
READ_CHUNK = 1024 * 1024
IS_ROOT = os.geteuid() == 0
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class VerifyError(OSError):
    pass


def temp_name(dst: str, job_id: int) -> str:
    head, tail = os.path.split(dst)
    return os.path.join(head, f".{tail}.sdjobs-{job_id}.part")


def is_temp_of(name: str, job_id: int) -> bool:
    return name.startswith(".") and name.endswith(f".sdjobs-{job_id}.part")


def same_quick(st_src: os.stat_result, dst: str) -> bool:
    """rsync's quick check: the destination has the source's size and mtime."""
    try:
        st = os.lstat(dst)
    except OSError:
        return False
    return (st.st_size == st_src.st_size and st.st_mtime_ns == st_src.st_mtime_ns
            and stat.S_IFMT(st.st_mode) == stat.S_IFMT(st_src.st_mode))


def apply_meta(fd_or_path, st: os.stat_result, *, follow: bool = True) -> None:
    if IS_ROOT and (st.st_uid != os.geteuid() or st.st_gid != os.getegid()):
        if isinstance(fd_or_path, int):
            os.fchown(fd_or_path, st.st_uid, st.st_gid)
        else:
            os.chown(fd_or_path, st.st_uid, st.st_gid, follow_symlinks=follow)
    if isinstance(fd_or_path, int):
        os.fchmod(fd_or_path, stat.S_IMODE(st.st_mode))
    elif follow:
        os.chmod(fd_or_path, stat.S_IMODE(st.st_mode))
    os.utime(fd_or_path, ns=(st.st_atime_ns, st.st_mtime_ns),
             **({} if isinstance(fd_or_path, int) else {"follow_symlinks": follow}))


def kernel_copy(src_fd: int, dst_fd: int, offset: int, count: int) -> int:
    """Copy ``count`` bytes from ``offset`` with copy_file_range, falling back to
    sendfile, then to read/write. Returns the bytes copied (less at EOF)."""
    done = 0
    try:
        while done < count:
            n = os.copy_file_range(src_fd, dst_fd, count - done, offset + done, offset + done)
            if n == 0:
                break
            done += n
        return done
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
            raise
    os.lseek(dst_fd, offset + done, os.SEEK_SET)
    while done < count:
        n = os.sendfile(dst_fd, src_fd, offset + done, min(count - done, CHUNK))
        if n == 0:
            break
        done += n
    return done


def hashed_copy(src_fd: int, dst_fd: int, offset: int, count: int, hasher) -> int:
    """Copy through user space, feeding ``hasher`` with every byte read."""
    buf = bytearray(READ_CHUNK)
    view = memoryview(buf)
    os.lseek(src_fd, offset, os.SEEK_SET)
    os.lseek(dst_fd, offset, os.SEEK_SET)
    done = 0
    while done < count:
        n = os.readv(src_fd, [view[:min(READ_CHUNK, count - done)]])
        if n == 0:
            break
        hasher.update(view[:n])
        written = 0
        while written < n:
            written += os.write(dst_fd, view[written:n])
        done += n
    return done


def hash_prefix(fd: int, length: int, hasher=None):
    """Feed the first ``length`` bytes of ``fd`` into ``hasher`` (a new xxh3-128 by default)."""
    hasher = hasher or xxhash.xxh3_128()
    buf = bytearray(READ_CHUNK)
    view = memoryview(buf)
    done = 0
    while done < length:
        n = os.preadv(fd, [view[:min(READ_CHUNK, length - done)]], done)
        if n == 0:
            break
        hasher.update(view[:n])
        done += n
    return hasher


def copy_file(src: str, dst: str, st: os.stat_result, job_id: int, *, verify: bool = False,
              resume_offset: int = 0, on_chunk: Callable[[int, int], None] | None = None,
              chunk: int = CHUNK) -> tuple[int, str | None]:
    """Copy a regular file to ``dst`` atomically. Returns (bytes, xxh3-128 hex or None).

    ``on_chunk(offset, written)`` is called after each chunk (with the data
    flushed to the temp file) so the caller can checkpoint ``offset`` or raise
    an interrupt; the temp file is then kept for a later ``resume_offset``."""
    tmp = temp_name(dst, job_id)
    src_fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        dst_fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            hasher = xxhash.xxh3_128() if verify else None
            offset = 0
            if resume_offset:
                offset = _check_partial(src_fd, dst_fd, tmp, resume_offset, hasher)
            os.ftruncate(dst_fd, offset)
            size = max(st.st_size, offset)
            while True:
                step = min(chunk, max(size - offset, 0)) or chunk
                n = hashed_copy(src_fd, dst_fd, offset, step, hasher) if hasher else \
                    kernel_copy(src_fd, dst_fd, offset, step)
                offset += n
                if n < step:
                    break  # end of file (it may have shrunk or grown meanwhile)
                if on_chunk is not None and offset < st.st_size:
                    on_chunk(offset, n)
            digest = None
            if verify:
                digest = hasher.hexdigest()
                again = hash_prefix(dst_fd, offset).hexdigest()
                if again != digest:
                    raise VerifyError(errno.EIO, f"verification failed: source xxh3 {digest}, copy {again}")
            apply_meta(dst_fd, st)
        finally:
            os.close(dst_fd)
    except Exception:
        _unlink_quiet(tmp)  # an interrupt (BaseException) keeps it, to resume from its offset
        raise
    finally:
        os.close(src_fd)
    os.rename(tmp, dst)
    return offset, digest


def same_content(a: str, b: str) -> bool:
    """Byte-for-byte equal, by xxh3-128 of both files."""
    fa, fb = os.open(a, os.O_RDONLY), os.open(b, os.O_RDONLY)
    try:
        size = os.fstat(fa).st_size
        if os.fstat(fb).st_size != size:
            return False
        return hash_prefix(fa, size).digest() == hash_prefix(fb, size).digest()
    finally:
        os.close(fa)
        os.close(fb)


def _check_partial(src_fd: int, dst_fd: int, tmp: str, offset: int, hasher) -> int:
    """The temp file's first ``offset`` bytes must equal the source's; else start over."""
    if os.fstat(dst_fd).st_size < offset:
        return 0
    if hash_prefix(dst_fd, offset).digest() != hash_prefix(src_fd, offset).digest():
        return 0
    if hasher is not None:
        hash_prefix(src_fd, offset, hasher)
    return offset


def copy_symlink(src: str, dst: str, st: os.stat_result, job_id: int) -> None:
    tmp = temp_name(dst, job_id)
    _unlink_quiet(tmp)
    os.symlink(os.readlink(src), tmp)
    try:
        apply_meta(tmp, st, follow=False)
        os.rename(tmp, dst)
    except BaseException:
        _unlink_quiet(tmp)
        raise


def copy_special(src: str, dst: str, st: os.stat_result, job_id: int) -> bool:
    """FIFOs always, device nodes as root; returns False for what cannot be made (sockets)."""
    tmp = temp_name(dst, job_id)
    _unlink_quiet(tmp)
    if stat.S_ISFIFO(st.st_mode):
        os.mkfifo(tmp, stat.S_IMODE(st.st_mode))
    elif (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) and IS_ROOT:
        os.mknod(tmp, st.st_mode, st.st_rdev)
    else:
        return False
    apply_meta(tmp, st)
    os.rename(tmp, dst)
    return True


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
