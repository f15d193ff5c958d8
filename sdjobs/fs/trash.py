"""Move files to the freedesktop.org trash (Trash specification 1.0).

Which trash:
- the home trash, `$XDG_DATA_HOME/Trash` (default `~/.local/share/Trash`;
  a relative XDG_DATA_HOME is ignored as the basedir spec says), when the
  file is on the same device as it;
- otherwise the trash of the file's mount, `$topdir/.Trash/$uid` if
  `$topdir/.Trash` is a real directory (not a symlink) with the sticky bit,
  else `$topdir/.Trash-$uid` (created 0700). A `$uid` directory that is not
  ours, or is a symlink, is never used.

How: the info is written complete and fsynced under a temporary name in info/,
locked with flock, and linked to `info/NAME.trashinfo` (NAME is the base name,
then `name.2`, `name.3`, ... on collision, shortened if the info file name would
pass 255 bytes); a link never replaces, so the name is taken as with O_EXCL, and
no reader ever sees a partial info. Then the file is renamed to `files/NAME`,
and only then is the lock let go; if the rename fails the info is removed. An
info with no file beside it, unlocked, that names the same original path is
what a move killed before its rename leaves: the next move of that path takes it
over (waiting for a live mover that holds it, so two movers of one path, as a
job run twice at once would be, never leave a file without its info). The
`Path=` key holds the original path's bytes percent-encoded: absolute for
the home trash, relative to `$topdir` for a mount's trash. The parent
directory is resolved with realpath (the item itself is not followed: a
symlink is trashed as a link). Trashing a directory also records its disk
usage in `$trash/directorysizes`, rewritten through a temp file + rename.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import stat
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

_INFO_SUFFIX = b".trashinfo"
_NAME_MAX = 255


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


def _path_line(body: bytes) -> bytes | None:
    return next((line for line in body.splitlines() if line.startswith(b"Path=")), None)


def _write_info(info: str, body: bytes) -> tuple[int, str]:
    """A complete, fsynced info file under a temporary name, locked (flock) by us:
    returns (fd, temp path). Linked to its final name only once complete, so no
    reader ever sees a partial one, and no kill leaves an empty one."""
    tmp = os.path.join(info, f".sdjobs-{secrets.token_hex(8)}.trashinfo.part")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def _take_over(info_path: str, target: str, body: bytes) -> int | None:
    """The locked fd of ``info_path`` if it is what a move of this same path left when it
    was cut short (killed between its info and its rename): no file in files/ beside it,
    no live mover holding it (we wait for one that does), and the same Path= line (or, as
    an older sdjobs could leave after a kill, empty and over a minute old). Else None."""
    try:
        fd = os.open(info_path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a live mover holds it until its rename is done
        st = os.fstat(fd)
        if st.st_nlink == 0 or os.path.lexists(target):
            raise _Skip  # removed by a mover whose rename failed, or its file is in the trash now
        old = os.pread(fd, 65536, 0)
        want = _path_line(body)
        if old:
            if want is None or want not in old.splitlines():
                raise _Skip
        elif time.time() - st.st_mtime < 60:
            raise _Skip  # (another program's info being written)
        else:
            os.pwrite(fd, body, 0)
            os.fsync(fd)
        return fd
    except _Skip:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise


class _Skip(Exception):
    pass


def trash_path(path: str | os.PathLike[str]) -> TrashedItem:
    """Move `path` (file, directory or symlink) to the trash."""
    p = os.fsdecode(os.fspath(path))
    absolute = os.path.abspath(p)
    base = os.path.basename(absolute)
    if not base or base in (".", ".."):
        raise ValueError(f"cannot trash {p!r}")
    parent = os.path.realpath(os.path.dirname(absolute))
    original = os.path.join(parent, base)
    st = os.lstat(original)
    if st.st_dev != os.stat(parent).st_dev:
        raise OSError(errno.EBUSY, "cannot trash a mount point", original)
    trash, topdir = trash_dir_for(original)
    files, info = _ensure_trash(trash)
    body = _trashinfo(original, topdir)
    raw = os.fsencode(base)
    fd, tmp = _write_info(info, body)
    try:
        n = 0
        while True:
            n += 1
            name = os.fsdecode(_unique_name(raw, n))
            info_path = os.path.join(info, name + ".trashinfo")
            target = os.path.join(files, name)
            if os.path.lexists(target):  # an orphan in files/: leave it alone
                continue
            try:
                os.link(tmp, info_path)  # fails if the name is taken, as O_EXCL would
                break
            except FileExistsError:
                held = _take_over(info_path, target, body)  # a move of this very path cut short?
                if held is not None:
                    os.close(fd)
                    fd = held
                    break
        try:
            os.rename(original, target)
        except BaseException:
            if not os.path.lexists(target):  # we hold its lock: no other mover is using it
                _unlink_quiet(info_path)
            raise
    finally:
        os.close(fd)  # (releases the lock: the move is complete, or undone)
        _unlink_quiet(tmp)
    if stat.S_ISDIR(st.st_mode):
        try:
            mtime = int(os.stat(info_path).st_mtime)
            _update_directorysizes(trash, name, _disk_usage(target), mtime)
        except OSError:
            pass  # only a cache; the item is in the trash either way
    return TrashedItem(original, target, info_path)


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
