"""Directories opened beneath a trusted one, never through a symlink.

A destination another user can write may have any of its directories swapped
for a symlink at any moment. Paths are therefore resolved once, into directory
descriptors, and every write names its file relative to one (``dir_fd=``):

- ``open_dir(root_fd, rel)`` opens ``rel`` beneath ``root_fd`` with openat2's
  RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it (Linux 5.6+),
  else component by component with O_NOFOLLOW | O_DIRECTORY. Either way a
  symlink or ``..`` anywhere in ``rel`` is refused (ELOOP or EXDEV).
- ``DirCache`` keeps the directories of one target open (most recent first), and
  opens a new one relative to its already-open parent: one syscall per directory.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections import OrderedDict

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC  # search permission is enough
_SYS_OPENAT2 = 437  # the same number on every Linux architecture (the unified syscall table)
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _load_syscall():
    try:
        return ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None


_syscall = _load_syscall()
HAVE_OPENAT2: bool | None = None if _syscall is not None else False  # None: not tried yet


def _openat2(root_fd: int, rel: bytes, flags: int) -> int | None:
    """The kernel's own beneath-resolution; None where the kernel lacks openat2."""
    global HAVE_OPENAT2
    how = _OpenHow(flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS)
    fd = _syscall(ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(root_fd), ctypes.c_char_p(rel),
                  ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
    if fd >= 0:
        HAVE_OPENAT2 = True
        return fd
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EPERM) and HAVE_OPENAT2 is None:  # (EPERM: a seccomp filter)
        HAVE_OPENAT2 = False
        return None
    raise OSError(err, os.strerror(err), os.fsdecode(rel))


def _walk_open(root_fd: int, rel: bytes, flags: int) -> int:
    """The fallback: one component at a time, each with O_NOFOLLOW | O_DIRECTORY."""
    fd = os.dup(root_fd)
    parts = [p for p in rel.split(b"/") if p not in (b"", b".")]
    try:
        for i, part in enumerate(parts):
            if part == b"..":
                raise OSError(errno.EXDEV, "a '..' component leaves the destination", os.fsdecode(rel))
            nxt = os.open(part, flags if i == len(parts) - 1 else _PATH_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_dir(root_fd: int, rel: str | bytes, *, openat2: bool = True) -> int:
    """A new descriptor for directory ``rel`` beneath ``root_fd`` (``""`` for a copy of it).

    A symlink at any component fails with ELOOP (ENOTDIR where it points at a
    file); ``..`` fails with EXDEV. ``openat2=False`` forces the fallback. A
    directory the user may search but not read is opened with O_PATH (good for
    ``dir_fd=``, not for fsync or listing)."""
    try:
        return _open_dir(root_fd, rel, _DIR_FLAGS, openat2)
    except PermissionError:
        return _open_dir(root_fd, rel, _PATH_FLAGS, openat2)


def _open_dir(root_fd: int, rel: str | bytes, flags: int, openat2: bool) -> int:
    rel = os.fsencode(rel)
    if rel.startswith(b"/") or b".." in rel.split(b"/"):
        raise OSError(errno.EXDEV, "not beneath the destination", os.fsdecode(rel))
    if not rel.strip(b"/."):
        return os.dup(root_fd)
    if openat2 and HAVE_OPENAT2 is not False:
        fd = _openat2(root_fd, rel, flags)
        if fd is not None:
            return fd
    return _walk_open(root_fd, rel, flags)


def _open_one(name: str, parent: int) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except PermissionError:
        return os.open(name, _PATH_FLAGS, dir_fd=parent)


class DirCache:
    """Open descriptors of the directories under ``root`` (trusted: the user named it).

    ``fd(path)`` gives a descriptor of ``path``, ``root`` or a directory under it,
    resolved without following any symlink below ``root``. The ``limit`` most
    recently used stay open. Not thread-safe: one per thread."""

    def __init__(self, root: str, limit: int = 64, *, openat2: bool = True) -> None:
        self.root = root.rstrip("/") or "/"
        self.limit = limit
        self.openat2 = openat2
        self._fds: OrderedDict[str, int] = OrderedDict()
        try:
            self._root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except PermissionError:  # searchable, not readable (a home directory of mode 0711, say)
            self._root_fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def fd(self, path: str) -> int:
        fds = self._fds
        fd = fds.get(path)
        if fd is not None:
            fds.move_to_end(path)
            return fd
        if path == self.root:
            return self._root_fd
        prefix = self.root if self.root == "/" else self.root + "/"
        if not path.startswith(prefix):
            raise OSError(errno.EXDEV, "not under the destination", path)
        head, _, name = path.rpartition("/")
        parent = fds.get(head) if head != self.root else self._root_fd
        if parent is not None and name not in ("", ".", ".."):
            fd = _open_one(name, parent)  # one step from an open, checked parent
        else:
            fd = open_dir(self._root_fd, path[len(prefix):], openat2=self.openat2)
        fds[path] = fd
        if len(fds) > self.limit:
            os.close(fds.popitem(last=False)[1])
        return fd

    def forget(self, path: str) -> None:
        """Drop ``path`` and everything under it (say, after it was renamed away)."""
        for key in [k for k in self._fds if k == path or k.startswith(path + "/")]:
            os.close(self._fds.pop(key))

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1

    def __enter__(self) -> DirCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
