"""Copying one entry safely: private temp name, kernel fast path, metadata, rename.

Nothing is ever visible under its final name before it is complete: data goes
to a new ``.sdjobs-<16 hex>.part`` in the destination directory, created with
O_CREAT | O_EXCL | O_NOFOLLOW (a name planted there is never opened), gets
its mode, owner and times through its descriptor, and is renamed into place.
The first 8 hex digits are the job's token (so that its leftovers can be
swept), the rest are random (so that no one can plant a name in advance).

Every destination is a directory descriptor and a name in it (see
``fs.beneath``): nothing here resolves a destination path. A source that
changes while it is copied (size, mtime or ctime differ between the fstat
before and after) is copied again, up to SOURCE_TRIES times, then refused with
SourceChanged: a torn copy is never kept under its final name.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import stat
import sys
import threading
from collections.abc import Callable

import xxhash

from .buffers import page_aligned

CHUNK = 64 * 1024 * 1024  # kernel copy step between checks for interrupts
READ_CHUNK = 256 * 1024  # fits in L2 with room to spare: read, hash and write it while it is there
SOURCE_TRIES = 3
IS_ROOT = os.geteuid() == 0
_IDS = (os.geteuid(), os.getegid())
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_RENAME_NOREPLACE = 1
_FS_ENCODING = (sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE_BITS = 0o755  # a small file's temp: the source's bits but these (see copy_whole)
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
        buf = _local.buffer = page_aligned(READ_CHUNK)
    return buf


def _load_renameat2():
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2  # (no argtypes: a third cheaper per call)
    except (OSError, AttributeError):
        return None


_renameat2 = _load_renameat2()


def _load_syncfs():
    """libc's syncfs, where it reports the filesystem's write-back errors (Linux 5.8 on: before,
    it returned 0 whatever happened, and a failed write would pass for a durable copy)."""
    try:
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
        if sys.platform != "linux" or (major, minor) < (5, 8):
            return None
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError, ValueError):
        return None


_syncfs = _load_syncfs()
HAVE_SYNCFS = _syncfs is not None


def sync_filesystem(fd: int) -> None:
    """Make everything written to the filesystem of ``fd`` durable, data and names (syncfs: one
    journal commit where a fsync of each file costs one each); OSError on a write-back error."""
    if _syncfs is None:
        raise OSError(errno.ENOSYS, "syncfs is not available here")
    if _syncfs(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class VerifyError(OSError):
    pass


class SourceChanged(OSError):
    pass


# -- temporary names --------------------------------------------------------------
def new_token() -> str:
    """A job's token: the first half of its temporary names."""
    return secrets.token_hex(4)


def temp_name(token: str) -> str:
    """A new temporary name: short (long final names still fit) and unpredictable."""
    return f".sdjobs-{token}{os.urandom(4).hex()}.part"  # (secrets.token_hex, without its two calls)


def is_temp_of(name: str, token: str) -> bool:
    return len(name) == 29 and name.startswith(f".sdjobs-{token}") and name.endswith(".part")


def _create(dfd: int, token: str, access: int, mode: int) -> tuple[int, str]:
    for _ in range(8):
        tmp = temp_name(token)
        try:
            return os.open(tmp, access | _NEW_FLAGS, mode, dir_fd=dfd), tmp
        except FileExistsError:
            continue  # (someone else's name: never opened)
    raise FileExistsError(errno.EEXIST, "no free temporary name")


def unlink_quiet(dfd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dfd)
    except OSError:
        pass


# -- checks -------------------------------------------------------------------------
def lstat_at(dfd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def same_quick(st_src: os.stat_result, dfd: int, name: str) -> bool:
    """rsync's quick check: the destination has the source's size and mtime."""
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except OSError:
        return False
    return quick_match(st_src, st)


def quick_match(st_src: os.stat_result, st: os.stat_result) -> bool:
    return (st.st_size == st_src.st_size and st.st_mtime_ns == st_src.st_mtime_ns
            and stat.S_IFMT(st.st_mode) == stat.S_IFMT(st_src.st_mode))


def same_content(src: str, dfd: int, name: str, *, src_dfd: int | None = None) -> bool:
    """Byte-for-byte equal, by xxh3-128 of both files (neither through a symlink)."""
    fa = os.open(src, _READ_FLAGS, dir_fd=src_dfd)
    try:
        fb = os.open(name, _READ_FLAGS, dir_fd=dfd)
        try:
            size = os.fstat(fa).st_size
            if not stat.S_ISREG(os.fstat(fb).st_mode) or os.fstat(fb).st_size != size:
                return False
            return hash_prefix(fa, size).digest() == hash_prefix(fb, size).digest()
        finally:
            os.close(fb)
    finally:
        os.close(fa)


def remove_source(sfd: int, name: str, ident: tuple[int, int]) -> None:
    """--move: unlink source ``name`` in ``sfd``, if it is still the entry that was copied
    (``ident``: its device and inode)."""
    cur = os.stat(name, dir_fd=sfd, follow_symlinks=False)
    if (cur.st_dev, cur.st_ino) != ident:
        raise OSError(errno.EBUSY, "replaced since it was copied; not removed", name)
    os.unlink(name, dir_fd=sfd)


def sync_existing(dfd: int, name: str) -> None:
    """Make a file found in place durable (before a --move removes its source)."""
    fd = os.open(name, _READ_FLAGS, dir_fd=dfd)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unchanged(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns and a.st_ctime_ns == b.st_ctime_ns


def _changed(tries: int) -> SourceChanged:
    return SourceChanged(errno.EAGAIN, f"the source changed while it was copied ({tries} tries); not copied")


# -- data -----------------------------------------------------------------------------
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


def _reread(dst_fd: int, n: int, digest: str) -> None:
    again = hash_prefix(dst_fd, n).hexdigest()
    if again != digest:
        raise VerifyError(errno.EIO, f"verification failed: source xxh3 {digest}, copy {again}")


def apply_meta(fd: int, st: os.stat_result) -> None:
    """Owner (as root), mode and times, through the descriptor."""
    if IS_ROOT and (st.st_uid, st.st_gid) != _IDS:
        os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))


def copy_whole(src: str, dfd: int, name: str, token: str, *, verify: bool = False, replace: bool = True,
               durable: bool = False, src_dfd: int | None = None) -> tuple[int, os.stat_result]:
    """Copy a small regular file in one go to ``name`` in directory ``dfd``; returns the bytes
    copied and the source's stat (``src`` is a name in ``src_dfd`` if given).

    The data goes to a new temp file, created with the source's permission bits
    but no one's write bits except the owner's and no set-id bits (no one else
    can change it before it is complete, and it is no more readable than the
    copy will be), gets the mode, times (and owner) the source had, and is
    renamed into place. Metadata comes from ``fstat`` of the open source, so it
    describes the bytes copied. ``durable``: fsync'd before the rename (the
    caller syncs the directory). With ``replace=False`` an existing destination
    is never replaced: FileExistsError. A failure leaves no temp file."""
    src_fd = os.open(src, _READ_FLAGS, dir_fd=src_dfd)
    try:
        for _ in range(SOURCE_TRIES):
            st = os.fstat(src_fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "no longer a regular file")
            mode = st.st_mode & 0o7777
            size = st.st_size
            dst_fd, tmp = _create(dfd, token, os.O_RDWR if verify else os.O_WRONLY, mode & _CREATE_BITS)
            try:
                try:
                    if not verify:
                        n = _small_copy(src_fd, dst_fd, size)
                    elif size <= READ_CHUNK:  # in one buffer: hashed in one call, re-read in one
                        data = _read_whole(src_fd, size)
                        n = _write_whole(dst_fd, data)
                    else:
                        hasher = xxhash.xxh3_128()
                        n = hashed_copy(src_fd, dst_fd, 0, size, hasher)
                    if n != size or not _unchanged(st, os.fstat(src_fd)):
                        unlink_quiet(dfd, tmp)
                        continue
                    if verify and size <= READ_CHUNK:
                        _reread_whole(dst_fd, n, xxhash.xxh3_128_digest(data))
                    elif verify:
                        _reread(dst_fd, n, hasher.hexdigest())
                    chowned = IS_ROOT and (st.st_uid, st.st_gid) != _IDS
                    if chowned:
                        os.fchown(dst_fd, st.st_uid, st.st_gid)
                    if chowned or mode != mode & _CREATE_BITS & ~_UMASK:
                        os.fchmod(dst_fd, mode)  # what creation left out; set-id bits go on writes and chown
                    os.utime(dst_fd, ns=(st.st_atime_ns, st.st_mtime_ns))
                    if durable:
                        os.fsync(dst_fd)
                finally:
                    os.close(dst_fd)
                rename_into(dfd, tmp, dfd, name, replace=replace)
                return n, st
            except BaseException:
                unlink_quiet(dfd, tmp)
                raise
        raise _changed(SOURCE_TRIES)
    finally:
        os.close(src_fd)


def _read_whole(src_fd: int, size: int) -> memoryview:
    """The first ``size`` bytes of ``src_fd`` (fewer at its end), in this thread's buffer."""
    view = _get_buffer()
    done = 0
    while done < size:
        n = os.preadv(src_fd, [view[done:size]], done)
        if n == 0:
            break
        done += n
    return view[:done]


def _write_whole(dst_fd: int, data: memoryview) -> int:
    written = 0
    while written < len(data):
        written += os.pwrite(dst_fd, data[written:], written)
    return written


def _reread_whole(dst_fd: int, n: int, digest: bytes) -> None:
    """``_reread`` of a small copy of ``n`` bytes: read back whole in one read (a byte more: a
    copy longer than that fails too), hashed in one call."""
    again = os.pread(dst_fd, n + 1, 0)
    while 0 < len(again) < n:  # (a short read: rare, but not an error)
        more = os.pread(dst_fd, n + 1 - len(again), len(again))
        if not more:
            break
        again += more
    if xxhash.xxh3_128_digest(again) != digest:
        raise VerifyError(errno.EIO, f"verification failed: source xxh3 {digest.hex()},"
                          f" copy {xxhash.xxh3_128_hexdigest(again)}")


def _small_copy(src_fd: int, dst_fd: int, size: int) -> int:
    """``kernel_copy`` of a whole small file: one copy_file_range in the common case."""
    try:
        n = os.copy_file_range(src_fd, dst_fd, size, 0, 0) if size else 0
    except OSError:
        return kernel_copy(src_fd, dst_fd, 0, size)  # (it knows which errors mean "another way")
    return n if n == size or n == 0 else n + kernel_copy(src_fd, dst_fd, n, size - n)


def copy_file(src: str, dfd: int, name: str, tmp: str, *, verify: bool = False, resume_offset: int = 0,
              on_chunk: Callable[[int, int], None] | None = None, chunk: int = CHUNK, replace: bool = True,
              durable: bool = False, src_dfd: int | None = None) -> tuple[int, str | None]:
    """Copy a regular file through temp name ``tmp`` (from ``temp_name``, recorded by the caller so that
    a resume finds it) to ``name`` in ``dfd``. Returns (bytes, xxh3-128 hex or None).

    ``on_chunk(offset, written)`` is called after each chunk so the caller can
    checkpoint ``offset`` or raise an interrupt; the temp file is then kept for
    a later ``resume_offset``. Any other failure removes it."""
    src_fd = os.open(src, _READ_FLAGS, dir_fd=src_dfd)
    dst_fd = _open_partial(dfd, tmp) if resume_offset else -1
    try:
        if dst_fd < 0:
            resume_offset = 0
            dst_fd = os.open(tmp, os.O_RDWR | _NEW_FLAGS, 0o600, dir_fd=dfd)  # (never a planted name)
    except BaseException:
        os.close(src_fd)
        raise
    try:
        for _ in range(SOURCE_TRIES):
            st = os.fstat(src_fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "no longer a regular file")
            hasher = xxhash.xxh3_128() if verify else None
            offset = _check_partial(src_fd, dst_fd, resume_offset, hasher) if resume_offset else 0
            resume_offset = 0
            os.ftruncate(dst_fd, offset)
            while True:
                step = min(chunk, max(st.st_size - offset, 0)) or chunk
                n = hashed_copy(src_fd, dst_fd, offset, step, hasher) if hasher else \
                    kernel_copy(src_fd, dst_fd, offset, step)
                offset += n
                if n < step:
                    break  # end of file
                if on_chunk is not None and offset < st.st_size:
                    on_chunk(offset, n)
            if offset != st.st_size or not _unchanged(st, os.fstat(src_fd)):
                continue  # torn: again from the start
            digest = None
            if hasher is not None:  # (verify)
                digest = hasher.hexdigest()
                _reread(dst_fd, offset, digest)
            apply_meta(dst_fd, st)
            if durable:
                os.fsync(dst_fd)
            os.close(dst_fd)
            dst_fd = -1
            rename_into(dfd, tmp, dfd, name, replace=replace)
            return offset, digest
        raise _changed(SOURCE_TRIES)
    except Exception:
        unlink_quiet(dfd, tmp)  # an interrupt (BaseException) keeps it, to resume from its offset
        raise
    finally:
        if dst_fd >= 0:
            os.close(dst_fd)
        os.close(src_fd)


def _open_partial(dfd: int, tmp: str) -> int:
    """The temp file of an interrupted run, if it is still ours (a plain file of our uid, one link)."""
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
    except OSError:
        return -1
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1:
        return fd
    os.close(fd)
    return -1


def _check_partial(src_fd: int, dst_fd: int, offset: int, hasher) -> int:
    """The temp file's first ``offset`` bytes must equal the source's; else start over."""
    if os.fstat(dst_fd).st_size < offset:
        return 0
    if hash_prefix(dst_fd, offset).digest() != hash_prefix(src_fd, offset).digest():
        return 0
    if hasher is not None:
        hash_prefix(src_fd, offset, hasher)
    return offset


def rename_into(src_dfd: int, tmp: str, dfd: int, name: str, *, replace: bool = True) -> None:
    """Rename ``tmp`` to ``name``; without ``replace``, atomically refuse an existing
    one (renameat2 RENAME_NOREPLACE) with FileExistsError."""
    if replace:
        os.rename(tmp, name, src_dir_fd=src_dfd, dst_dir_fd=dfd)
        return
    if _renameat2 is not None:
        if _renameat2(src_dfd, tmp.encode(*_FS_ENCODING), dfd, name.encode(*_FS_ENCODING),
                      _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), name)
    if lstat_at(dfd, name) is not None:  # a filesystem without RENAME_NOREPLACE: check, then rename
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), name)
    os.rename(tmp, name, src_dir_fd=src_dfd, dst_dir_fd=dfd)


# -- other kinds -----------------------------------------------------------------------
def make_dir(dfd: int, name: str) -> bool:
    """Create directory ``name`` (private until the finish phase); False if one is there already.
    Anything else in the way (a symlink above all) is an error."""
    try:
        os.mkdir(name, 0o700, dir_fd=dfd)
        return True
    except FileExistsError:
        st = lstat_at(dfd, name)
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise FileExistsError(errno.EEXIST, "something that is not a directory is in the way", name) from None
        return False


def copy_symlink(src: str, dfd: int, name: str, st: os.stat_result, token: str, *, replace: bool = True,
                 src_dfd: int | None = None) -> None:
    target = os.readlink(src, dir_fd=src_dfd)
    for _ in range(8):
        tmp = temp_name(token)
        try:
            os.symlink(target, tmp, dir_fd=dfd)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name")
    try:
        if IS_ROOT and (st.st_uid, st.st_gid) != _IDS:
            os.chown(tmp, st.st_uid, st.st_gid, dir_fd=dfd, follow_symlinks=False)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)
        rename_into(dfd, tmp, dfd, name, replace=replace)
    except BaseException:
        unlink_quiet(dfd, tmp)
        raise


def special_problem(st: os.stat_result) -> str | None:
    """Why an entry that is not a file, directory or symlink cannot be copied, or None if it can."""
    mode = st.st_mode
    if stat.S_ISFIFO(mode):
        return None
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "character" if stat.S_ISCHR(mode) else "block"
        return None if IS_ROOT else f"a {kind} device: only root can create device nodes; skipped"
    if stat.S_ISSOCK(mode):
        return "a socket: sockets cannot be copied; skipped"
    return "an entry of unknown kind; skipped"


def copy_special(dfd: int, name: str, st: os.stat_result, token: str, *, replace: bool = True) -> None:
    """A FIFO, or a device node as root (see ``special_problem``)."""
    for _ in range(8):
        tmp = temp_name(token)
        try:
            if stat.S_ISFIFO(st.st_mode):
                os.mkfifo(tmp, 0o600, dir_fd=dfd)
            else:
                os.mknod(tmp, stat.S_IFMT(st.st_mode) | 0o600, st.st_rdev, dir_fd=dfd)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name")
    try:
        fd = os.open(tmp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        try:
            if stat.S_IFMT(os.fstat(fd).st_mode) != stat.S_IFMT(st.st_mode):
                raise OSError(errno.EEXIST, "the temporary entry was replaced", name)
            inode = f"/proc/self/fd/{fd}"  # the node itself, by its descriptor (O_PATH has no fchmod)
            if IS_ROOT and (st.st_uid, st.st_gid) != _IDS:
                os.chown(inode, st.st_uid, st.st_gid)
            os.chmod(inode, stat.S_IMODE(st.st_mode))
            os.utime(inode, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(fd)
        rename_into(dfd, tmp, dfd, name, replace=replace)
    except BaseException:
        unlink_quiet(dfd, tmp)
        raise


def link_into(first_dfd: int, first: str, dfd: int, name: str, token: str, *, replace: bool = True) -> None:
    """A hard link ``name`` to the copy ``first`` (never following a symlink there)."""
    for _ in range(8):
        tmp = temp_name(token)
        try:
            os.link(first, tmp, src_dir_fd=first_dfd, dst_dir_fd=dfd, follow_symlinks=False)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name")
    try:
        rename_into(dfd, tmp, dfd, name, replace=replace)
    except BaseException:
        unlink_quiet(dfd, tmp)
        raise
