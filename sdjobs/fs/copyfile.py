"""Copying one entry safely: temp name, kernel fast path, metadata, rename.

Nothing is ever visible under its final name before it is complete: data goes
to ``.NAME.sdjobs-JOB.part`` in the destination directory, gets its mode,
owner and times, and is renamed into place. A large copy can stop at any
chunk and continue from an offset after the part already written is checked.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys
import threading
from typing import Callable

import xxhash

CHUNK = 64 * 1024 * 1024  # kernel copy step between checks for interrupts
READ_CHUNK = 256 * 1024  # fits in L2 with room to spare: read, hash and write it while it is there
IS_ROOT = os.geteuid() == 0
_IDS = (os.geteuid(), os.getegid())
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_FS_ENCODING = (sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
_local = threading.local()  # one read buffer per thread: the large-file thread and the job's thread both copy


def _read_umask() -> int:
    """The umask, read once at import: os.umask() sets it, so calling it later would race other threads."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _get_buffer() -> memoryview:
    buf = getattr(_local, "buffer", None)
    if buf is None:
        buf = _local.buffer = memoryview(bytearray(READ_CHUNK))
    return buf


def _process_umask() -> int:
    return _UMASK


def _load_renameat2():
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2  # (no argtypes: a third cheaper per call)
    except (OSError, AttributeError):
        return None


_renameat2 = _load_renameat2()


class VerifyError(OSError):
    pass


def temp_name(dst: str, job_id: int) -> str:
    head, sep, tail = dst.rpartition("/")
    return f"{head}{sep}.{tail}.sdjobs-{job_id}.part"


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
    if IS_ROOT and (st.st_uid, st.st_gid) != _IDS:
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
    view = _get_buffer()
    done = 0
    while done < count:
        n = os.preadv(src_fd, [view[:min(READ_CHUNK, count - done)]], offset + done)
        if n == 0:
            break
        hasher.update(view[:n])
        written = 0
        while written < n:
            written += os.pwrite(dst_fd, view[written:n], offset + done + written)
        done += n
    return done


def hash_prefix(fd: int, length: int, hasher=None):
    """Feed the first ``length`` bytes of ``fd`` into ``hasher`` (a new xxh3-128 by default)."""
    hasher = hasher or xxhash.xxh3_128()
    view = _get_buffer()
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
              chunk: int = CHUNK, replace: bool = True) -> tuple[int, str | None]:
    """Copy a regular file to ``dst`` atomically. Returns (bytes, xxh3-128 hex or None).

    ``on_chunk(offset, written)`` is called after each chunk (with the data
    flushed to the temp file) so the caller can checkpoint ``offset`` or raise
    an interrupt; the temp file is then kept for a later ``resume_offset``.
    ``replace=False``: see ``rename_into``."""
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
    try:
        rename_into(tmp, dst, replace=replace)
    except OSError:
        _unlink_quiet(tmp)
        raise
    return offset, digest


def copy_whole(src: str, dst: str, job_id: int, *, verify: bool = False, replace: bool = True) -> int:
    """Copy a small regular file in one go; returns the bytes copied.

    The fast path for many small files, and just as safe as ``copy_file``: the
    data goes to a new temp file created with the source's owner bits only
    (private until it is complete), gets the mode, times (and owner) the source
    had when it was opened, and is renamed into place. Metadata comes from ``fstat`` of the open source, so it
    describes the bytes copied. With ``replace=False`` an existing ``dst`` is
    never replaced: FileExistsError, and the temp file is removed. A failure
    leaves no temp file behind (small files are not resumed part-way)."""
    src_fd = os.open(src, _READ_FLAGS)
    try:
        st = os.fstat(src_fd)
        mode = st.st_mode & 0o7777
        tmp = temp_name(dst, job_id)
        dst_fd = _create_temp(tmp, mode & 0o700, os.O_RDWR if verify else os.O_WRONLY)  # private until done
        try:
            try:
                if verify:
                    n = _verified_copy(src_fd, dst_fd, st.st_size)
                else:
                    n = kernel_copy(src_fd, dst_fd, 0, st.st_size)
                chowned = IS_ROOT and (st.st_uid, st.st_gid) != _IDS
                if chowned:
                    os.fchown(dst_fd, st.st_uid, st.st_gid)
                if chowned or mode & 0o7077 or mode & _process_umask():
                    os.fchmod(dst_fd, mode)  # group and other bits; set-id bits go on writes and chown
                os.utime(dst_fd, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dst_fd)
            rename_into(tmp, dst, replace=replace)
        except BaseException:
            _unlink_quiet(tmp)
            raise
    finally:
        os.close(src_fd)
    return n


_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def _create_temp(tmp: str, mode: int, access: int) -> int:
    flags = access | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        return os.open(tmp, flags, mode)
    except FileExistsError:
        os.unlink(tmp)  # left by an interrupted run of this job
        return os.open(tmp, flags, mode)


def _verified_copy(src_fd: int, dst_fd: int, size: int) -> int:
    hasher = xxhash.xxh3_128()
    n = hashed_copy(src_fd, dst_fd, 0, size, hasher)
    digest = hasher.hexdigest()
    again = hash_prefix(dst_fd, n).hexdigest()
    if again != digest:
        raise VerifyError(errno.EIO, f"verification failed: source xxh3 {digest}, copy {again}")
    return n


def rename_into(tmp: str, dst: str, *, replace: bool = True) -> None:
    """Rename ``tmp`` to ``dst``; without ``replace``, atomically refuse an existing
    ``dst`` (renameat2 RENAME_NOREPLACE) with FileExistsError."""
    if replace:
        os.rename(tmp, dst)
        return
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, tmp.encode(*_FS_ENCODING), _AT_FDCWD, dst.encode(*_FS_ENCODING),
                      _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), dst)
    if os.path.lexists(dst):  # a filesystem without RENAME_NOREPLACE: check, then rename
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    os.rename(tmp, dst)


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
