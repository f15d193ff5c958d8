"""Descriptor-relative file operations: directories opened with O_NOFOLLOW one
component at a time, files created with O_CREAT|O_EXCL|O_NOFOLLOW under
unpredictable names, renames that never replace. Used by the trash, dupes
--then and the thumbnail writers; to be unified with fs/beneath.py.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def open_real_dir(path: str) -> int:
    """A descriptor of directory ``path`` (absolute, already free of symlinks: a
    realpath), opened one component at a time with O_NOFOLLOW: fails with ELOOP or
    ENOTDIR if any component is (or has just become) a symlink."""
    fd = os.open("/", DIR_FLAGS)
    try:
        for part in path.split("/"):
            if part:
                nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_subdir(dir_fd: int, name: str, create: bool = False) -> int:
    """``name`` in ``dir_fd``, opened with O_NOFOLLOW (a symlink there fails with
    ELOOP); made first (0700) when ``create`` and missing."""
    if create:
        try:
            os.mkdir(name, 0o700, dir_fd=dir_fd)
        except FileExistsError:
            pass
        else:
            fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            os.fchmod(fd, 0o700)  # mkdir's mode went through the umask
            return fd
    return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


def write_replace_at(dir_fd: int, name: str, data: bytes, *, tag: str = "") -> None:
    """Put ``data`` (mode 0600) at ``name`` in ``dir_fd`` atomically: written under an
    unpredictable temporary name created with O_CREAT|O_EXCL|O_NOFOLLOW
    (``.NAME.RANDOM.TAG.tmp``, where a caller may tag it, e.g. with its pid), then
    renamed over ``name`` (a symlink planted there is replaced, never followed)."""
    while True:
        tmp = f".{name[:100]}.{secrets.token_hex(8)}.{tag or 'x'}.tmp"
        try:
            fd = os.open(tmp, _NEW, 0o600, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise


def lexists_at(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _write_temp(dir_fd: int, body: bytes, mode: int = 0o600) -> str:
    """A new file in ``dir_fd`` holding ``body`` (fsynced), under an unpredictable
    name created with O_EXCL|O_NOFOLLOW; returns that name."""
    while True:
        tmp = f".sdjobs-{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(tmp, _NEW, mode, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.unlink(tmp, dir_fd=dir_fd)
        raise
    finally:
        os.close(fd)
    return tmp


def _write_anonymous(dir_fd: int, body: bytes) -> int | None:
    """An open O_TMPFILE in ``dir_fd`` holding ``body`` (fsynced), or None where the
    filesystem (or a missing /proc) does not allow linking one in."""
    if not hasattr(os, "O_TMPFILE") or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.open(".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_complete(dir_fd: int, name: str, body: bytes) -> bool:
    """Create ``name`` in ``dir_fd`` holding ``body``, exclusively (as O_EXCL would) and
    whole: it is written under a temporary name first, then hard-linked to ``name``,
    so ``name`` never exists empty or half written. False if ``name`` already exists.
    With O_TMPFILE the temporary file has no name at all, so a kill leaves nothing."""
    anonymous = _write_anonymous(dir_fd, body)
    if anonymous is not None:
        try:
            os.link(f"/proc/self/fd/{anonymous}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
        except FileExistsError:
            return False
        finally:
            os.close(anonymous)
        return True
    tmp = _write_temp(dir_fd, body)
    try:
        os.link(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp, dir_fd=dir_fd)
    return True


def replace_complete(dir_fd: int, name: str, body: bytes) -> None:
    """Replace ``name`` in ``dir_fd`` by a file holding ``body``, atomically."""
    tmp = _write_temp(dir_fd, body)
    try:
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        os.unlink(tmp, dir_fd=dir_fd)
        raise


_RENAME_NOREPLACE = 1
_libc = None


def rename_noreplace(src_fd: int, src: str, dst_fd: int, dst: str) -> None:
    """renameat2(RENAME_NOREPLACE): FileExistsError rather than replacing ``dst``.
    Where the kernel or filesystem lacks it, a check then a plain rename."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(_libc, "renameat2", None)
    if fn is not None:
        if fn(src_fd, os.fsencode(src), dst_fd, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(err, os.strerror(err), src)
        if err == errno.EINVAL and not lexists_at(src_fd, src):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), src)
    if lexists_at(dst_fd, dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
