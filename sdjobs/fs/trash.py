"""Move files to the freedesktop.org trash (Trash specification 1.0).

Which trash:
- the home trash, `$XDG_DATA_HOME/Trash` (default `~/.local/share/Trash`;
  a relative XDG_DATA_HOME is ignored as the basedir spec says), when the
  file is on the same device as it;
- otherwise the trash of the file's mount, `$topdir/.Trash/$uid` if
  `$topdir/.Trash` is a real directory (not a symlink) with the sticky bit,
  else `$topdir/.Trash-$uid` (created 0700). A `$uid` directory that is not
  ours, or is a symlink, is never used.

How: `info/NAME.trashinfo` is created first, exclusively and complete from
birth (written and fsynced as an O_TMPFILE or a random temporary name, then
hard-linked to its name: the link fails if the name exists, as O_EXCL would;
NAME is the base name, then `name.2`, `name.3`, ... on collision, shortened
if the info file name would pass 255 bytes), then the file is renamed to
`files/NAME` with RENAME_NOREPLACE; if the rename fails the trashinfo is
removed, unless its file is there (a concurrent mover of the same path used
it). An info file with no file beside it that names the same original path
is what a move killed before its rename leaves: the next move of that path
reuses it instead of leaving it behind as an orphan. Both directories are
reached through descriptors opened component by component with O_NOFOLLOW.
The
`Path=` key holds the original path's bytes percent-encoded: absolute for
the home trash, relative to `$topdir` for a mount's trash. The parent
directory is resolved with realpath (the item itself is not followed: a
symlink is trashed as a link). Trashing a directory also records its disk
usage in `$trash/directorysizes`, rewritten through a temp file + rename.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from .dirfd import (
    READ_FLAGS, create_complete, lexists_at, open_real_dir, open_subdir, rename_noreplace, replace_complete,
)

_INFO_SUFFIX = b".trashinfo"
_NAME_MAX = 255
_STALE_AFTER = 60.0  # seconds: an empty info this old has no writer left


@dataclass(frozen=True, slots=True)
class TrashedItem:
    """Where a trashed item came from and where it went."""

    original: str
    trashed_path: str
    info_path: str


def home_trash_dir() -> str:
    """The home trash directory, read from the environment at call time."""
    data_home = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):
        data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data_home, "Trash")


def find_mount_top(path: str) -> str:
    """The top directory of the mount holding the entry `path`: the highest
    ancestor of its real parent directory on the same device as that parent.
    `path` itself is not followed (nor required to exist), so for a mount
    point this is the top of the mount it sits on."""
    here = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    dev = os.stat(here).st_dev
    while True:
        parent = os.path.dirname(here)
        if parent == here or os.stat(parent).st_dev != dev:
            return here
        here = parent


def _own_dir(path: str, create: bool) -> bool:
    """True if `path` is (or was just created as) a real directory we own."""
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()


def topdir_trash(topdir: str) -> str:
    """The user's trash directory on the mount whose top is `topdir`,
    created if needed. Raises PermissionError if no safe one can be had."""
    uid = str(os.getuid())
    admin = os.path.join(topdir, ".Trash")
    try:
        st = os.lstat(admin)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX:
        try:
            if _own_dir(os.path.join(admin, uid), create=True):
                return os.path.join(admin, uid)
        except OSError:
            pass  # fall back to .Trash-$uid, as the spec says for failed checks
    user = os.path.join(topdir, f".Trash-{uid}")
    if not _own_dir(user, create=True):
        raise PermissionError(f"unsafe or unusable trash directory: {user}")
    return user


def trash_dir_for(path: str) -> tuple[str, str | None]:
    """(trash directory, topdir) for `path`; topdir is None for the home
    trash. Nothing is created for the home trash here."""
    dev = os.lstat(path).st_dev
    home = home_trash_dir()
    probe = home
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if os.stat(probe).st_dev == dev:
        return home, None
    top = find_mount_top(path)
    return topdir_trash(top), top


def _unique_name(base: bytes, n: int) -> bytes:
    """`base`, `base.2`, ...; cut so that NAME.trashinfo fits in 255 bytes,
    never in the middle of a UTF-8 character of a valid UTF-8 name."""
    suffix = b"" if n == 1 else b".%d" % n
    room = _NAME_MAX - len(_INFO_SUFFIX) - len(suffix)
    if len(base) > room:
        cut = base[:room]
        if _is_utf8(base):
            while cut and not _is_utf8(cut):
                cut = cut[:-1]
        base = cut
    return base + suffix


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _ensure_trash(trash: str) -> tuple[str, str]:
    os.makedirs(trash, 0o700, exist_ok=True)
    files, info = os.path.join(trash, "files"), os.path.join(trash, "info")
    for sub in (files, info):
        os.makedirs(sub, 0o700, exist_ok=True)
        if not stat.S_ISDIR(os.lstat(sub).st_mode):
            raise NotADirectoryError(sub)
    return files, info


def _disk_usage(path: str) -> int:
    """Bytes of blocks used by a tree, like `du -B1` (hard links counted
    once); unreadable parts are skipped."""
    total = os.lstat(path).st_blocks * 512
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    st = e.stat(follow_symlinks=False)
                    if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                        if (st.st_dev, st.st_ino) in seen:
                            continue
                        seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(e.path)
        except OSError:
            continue
    return total


def _update_directorysizes(trash: str, name: str, size: int, info_mtime: int) -> None:
    sizes = os.path.join(trash, "directorysizes")
    files = os.path.join(trash, "files")
    encoded = quote(os.fsencode(name), safe="")
    lines: list[str] = []
    try:
        with open(sizes, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 2)
                if len(parts) != 3 or parts[2] == encoded:
                    continue
                if os.path.lexists(os.path.join(files, os.fsdecode(unquote_to_bytes(parts[2])))):
                    lines.append(line.rstrip("\n") + "\n")
    except FileNotFoundError:
        pass
    lines.append(f"{size} {info_mtime} {encoded}\n")
    fd, tmp = tempfile.mkstemp(prefix="directorysizes.", dir=trash)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.writelines(lines)
        os.replace(tmp, sizes)
    except BaseException:
        os.unlink(tmp)
        raise


def _trashinfo(original: str, topdir: str | None) -> bytes:
    shown = original if topdir is None else os.path.relpath(original, topdir)
    date = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
    path = quote(os.fsencode(shown), safe="/")
    return f"[Trash Info]\nPath={path}\nDeletionDate={date}\n".encode("ascii")


def _left_for(info_fd: int, info_name: str, body: bytes) -> bool:
    """Whether ``info_name``, whose file is not in files/, names the same original path as
    ``body``: what a move killed between writing the info and renaming the file leaves."""
    try:
        fd = os.open(info_name, READ_FLAGS, dir_fd=info_fd)
    except OSError:
        return False
    try:
        old = os.read(fd, 65536)
    finally:
        os.close(fd)
    want = next((line for line in body.splitlines() if line.startswith(b"Path=")), None)
    return want is not None and want in old.splitlines()


def _stale_empty(info_fd: int, info_name: str) -> bool:
    """An empty info file left by an older sdjobs killed between creating and writing it
    (infos are complete from birth now): safe to take over once nobody can be writing it."""
    try:
        st = os.stat(info_name, dir_fd=info_fd, follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == 0 and time.time() - st.st_mtime > _STALE_AFTER


def _claim_info(info_fd: int, files_fd: int, raw: bytes, body: bytes) -> tuple[str, bool]:
    """A free trash name and its complete .trashinfo: (name, whether we created the info).
    An info a cut-short move of this very path left is taken over instead."""
    n = 0
    while True:
        n += 1
        name = os.fsdecode(_unique_name(raw, n))
        info_name = name + ".trashinfo"
        if lexists_at(files_fd, name):  # an orphan in files/: leave it alone
            continue
        if create_complete(info_fd, info_name, body):
            return name, True
        if _left_for(info_fd, info_name, body):  # a move of this very path was cut short: finish it
            return name, False
        if _stale_empty(info_fd, info_name):
            replace_complete(info_fd, info_name, body)
            return name, False


def trash_path(path: str | os.PathLike[str], *, resolve: bool = True) -> TrashedItem:
    """Move `path` (file, directory or symlink) to the trash. With ``resolve`` false,
    `path`'s directory must already be free of symlinks (a list resolved when it was
    made): one swapped in since fails the move.

    Crash-safe and idempotent: the info is complete the moment its name exists, the
    file moves after it (never over an existing name), and a move cut short at any
    point is finished by the next move of the same path. Both ends are reached through
    directories opened with O_NOFOLLOW, component by component: a directory swapped
    for a symlink meanwhile makes the move fail instead of acting elsewhere."""
    p = os.fsdecode(os.fspath(path))
    absolute = os.path.abspath(p)
    base = os.path.basename(absolute)
    if not base or base in (".", ".."):
        raise ValueError(f"cannot trash {p!r}")
    parent = os.path.dirname(absolute)
    if resolve:
        parent = os.path.realpath(parent)
    original = os.path.join(parent, base)
    with _dirs(parent) as (pfd,):
        st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        if st.st_dev != os.fstat(pfd).st_dev:
            raise OSError(errno.EBUSY, "cannot trash a mount point", original)
        trash, topdir = trash_dir_for(original)
        _ensure_trash(trash)
        with _trash_fds(trash, topdir) as (files_fd, info_fd):
            name, created = _claim_info(info_fd, files_fd, os.fsencode(base), _trashinfo(original, topdir))
            try:
                rename_noreplace(pfd, base, files_fd, name)
            except BaseException:
                # keep an info whose file is there: a concurrent mover of this path used it
                if created and not lexists_at(files_fd, name):
                    os.unlink(name + ".trashinfo", dir_fd=info_fd)
                raise
    target, info_path = os.path.join(trash, "files", name), os.path.join(trash, "info", name + ".trashinfo")
    if stat.S_ISDIR(st.st_mode):
        try:
            mtime = int(os.stat(info_path).st_mtime)
            _update_directorysizes(trash, name, _disk_usage(target), mtime)
        except OSError:
            pass  # only a cache; the item is in the trash either way
    return TrashedItem(original, target, info_path)


@contextlib.contextmanager
def _trash_fds(trash: str, topdir: str | None):
    """Descriptors of the trash's files/ and info/. The home trash is resolved (the
    user's own); a mount's trash is reached from its resolved top with O_NOFOLLOW at
    every step and must be ours, so a `.Trash-$uid` swapped for a symlink by another
    user of that mount since it was checked fails the move."""
    fds: list[int] = []
    try:
        if topdir is None:
            fds.append(open_real_dir(os.path.realpath(trash)))
        else:
            fds.append(open_real_dir(os.path.realpath(topdir)))
            for part in os.path.relpath(trash, topdir).split("/"):
                fds.append(open_subdir(fds[-1], part))
            if os.fstat(fds[-1]).st_uid != os.getuid():
                raise PermissionError(f"unsafe trash directory (not ours): {trash}")
        base = fds[-1]
        fds.append(open_subdir(base, "files", create=True))
        fds.append(open_subdir(base, "info", create=True))
        yield fds[-2], fds[-1]
    finally:
        for fd in fds:
            os.close(fd)


@contextlib.contextmanager
def _dirs(*paths: str):
    fds: list[int] = []
    try:
        for p in paths:
            fds.append(open_real_dir(p))
        yield tuple(fds)
    finally:
        for fd in fds:
            os.close(fd)
