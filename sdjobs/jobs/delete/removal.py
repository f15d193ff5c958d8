"""The file side of the delete job: safety checks, counting, fd-based removal.

Removal never follows a symlink: directories are opened relative to their
parent's descriptor with O_NOFOLLOW and checked against the (device, inode)
seen when they were listed, so a directory swapped for a symlink mid-way
stops that branch instead of deleting outside the target. Mount points inside
a target are not descended into.
"""

from __future__ import annotations

import errno
import os
import random
import stat

from ...fs.dirfd import open_real_dir, rename_noreplace

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20


def target_of(path: str) -> str:
    """The absolute path with its parent resolved and the last component
    kept as is: what a deletion of ``path`` touches (a symlink itself, never
    what it points to)."""
    absolute = os.path.abspath(path)
    base = os.path.basename(absolute)
    if not base:
        return absolute
    return os.path.join(os.path.realpath(os.path.dirname(absolute)), base)


def _within(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def protected_paths(library_db: str | None, data_dir: str | None = None) -> list[tuple[str, str]]:
    """(path, why) pairs that must survive any deletion, with their ancestors: the home
    directory, and the library (``ctx.library.path``), its journal files and its data
    directory (``ctx.library.data_dir``; by default the one beside it)."""
    home = os.path.realpath(os.path.expanduser("~"))
    out = [(home, "the home directory")]
    if library_db and library_db.partition("://")[0].lower() not in ("postgresql", "postgres"):  # (a URL: no file)
        db = os.path.realpath(library_db)
        stem, _ = os.path.splitext(db)
        out += [(db, "the sdjobs library"), (stem + "-data", "the sdjobs library's data")]
        out += [(db + suffix, "the sdjobs library") for suffix in ("-wal", "-shm", "-journal")]
    if data_dir:
        out.append((os.path.realpath(data_dir), "the sdjobs library's data"))
    return out


def refusal(path: str, library_db: str | None, data_dir: str | None = None) -> str | None:
    """Why deleting ``path`` must be refused, or None when it may go."""
    target = target_of(path)
    if target == "/" or not os.path.basename(target) or os.path.basename(target) in (".", ".."):
        return f"refusing to delete {path!r}: it is the root directory"
    for kept, what in protected_paths(library_db, data_dir):
        if _within(kept, target):
            where = "is" if kept == target else "contains"
            return f"refusing to delete {path!r}: it {where} {what} ({kept})"
        if what != "the home directory" and _within(target, kept):
            return f"refusing to delete {path!r}: it is part of {what} ({kept})"
    return None


class Remover:
    """Removes files and trees; ``secure`` overwrites regular files first.

    Callbacks: ``on_file(path, nbytes)`` after each non-directory is gone,
    ``on_error(path, exc)`` for what could not be removed, ``on_warn(path, msg)``,
    and ``check()`` between files (the job's interrupt check)."""

    def __init__(self, secure: bool, passes: int, on_file, on_error, on_warn, check) -> None:
        self.secure = secure
        self.passes = max(1, passes)
        self.on_file, self.on_error, self.on_warn, self.check = on_file, on_error, on_warn, check
        self.rng = random.Random(os.urandom(16))

    # -- one entry ------------------------------------------------------------
    def remove(self, path: str, st: os.stat_result, *, resolve: bool = True) -> None:
        """Remove ``path``; without ``resolve`` its directory must be free of symlinks
        (a list resolved when it was made) and is opened without following any."""
        parent, name = os.path.split(os.path.abspath(path))
        pfd = open_real_dir(os.path.realpath(parent) if resolve else parent)
        try:
            if stat.S_ISDIR(st.st_mode):
                self._tree(pfd, name, path, st)
            else:
                self._file(pfd, name, path, st)
        finally:
            os.close(pfd)

    def _file(self, dfd: int, name: str, path: str, st: os.stat_result) -> None:
        if self.secure and stat.S_ISREG(st.st_mode):
            if st.st_nlink > 1:
                self.on_warn(path, "has other hard links: unlinked without overwriting"
                                   " (its content lives on under the other names)")
            else:
                self._overwrite(dfd, name, st)
                name = self._scramble_name(dfd, name)
        os.unlink(name, dir_fd=dfd)
        self.on_file(path, st.st_size if stat.S_ISREG(st.st_mode) else 0)

    def _overwrite(self, dfd: int, name: str, st: os.stat_result) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                raise OSError(errno.ESTALE, "replaced while being deleted")
            size = now.st_size
            for _ in range(self.passes):
                os.lseek(fd, 0, os.SEEK_SET)
                left = size
                while left > 0:
                    chunk = self.rng.randbytes(min(_CHUNK, left))
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
                    left -= len(chunk)
                    self.check()
                os.fsync(fd)
            os.ftruncate(fd, 0)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _scramble_name(self, dfd: int, name: str) -> str:
        """Rename to a random name of the same length, so the old name does not linger."""
        n = max(1, len(os.fsencode(name)))
        for _ in range(20):
            new = "".join(self.rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(n))
            try:
                rename_noreplace(dfd, name, dfd, new)  # never over a name that appeared meanwhile
            except FileExistsError:
                continue
            return new
        return name

    def _open_dir(self, pfd: int, name: str, st: os.stat_result) -> int:
        fd = os.open(name, _DIR, dir_fd=pfd)
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)
            raise OSError(errno.ESTALE, "replaced while being deleted")
        return fd

    def _open_listed(self, pfd: int, name: str, path: str, st: os.stat_result):
        fd = self._open_dir(pfd, name, st)
        try:
            return fd, self._list(fd, path)
        except BaseException:
            os.close(fd)
            raise

    def _tree(self, pfd: int, name: str, path: str, st: os.stat_result) -> None:
        """Post-order removal with one open descriptor per level."""
        fd, listing = self._open_listed(pfd, name, path, st)
        stack = [(pfd, name, path, fd, listing, st.st_dev)]
        try:
            self._drain(stack)
        finally:
            for frame in stack:
                os.close(frame[3])

    def _drain(self, stack: list) -> None:
        while stack:
            ppfd, dname, dpath, dfd, entries, dev = stack[-1]
            descended = False
            while entries:
                ename, est = entries.pop()
                epath = f"{dpath}/{ename}"
                try:
                    if stat.S_ISDIR(est.st_mode):
                        if est.st_dev != dev:
                            self.on_error(epath, "is a mount point: not descended into")
                            continue
                        cfd, listing = self._open_listed(dfd, ename, epath, est)
                        stack.append((dfd, ename, epath, cfd, listing, dev))
                        descended = True
                        break
                    self._file(dfd, ename, epath, est)
                except FileNotFoundError:
                    continue  # already gone (a resumed run, or someone else)
                except OSError as exc:
                    self.on_error(epath, exc)
                self.check()
            if descended:
                continue
            stack.pop()
            os.close(dfd)
            try:
                os.rmdir(dname, dir_fd=ppfd)
            except FileNotFoundError:
                pass
            except OSError as exc:
                self.on_error(dpath, exc)

    def _list(self, fd: int, path: str) -> list[tuple[str, os.stat_result]]:
        out = []
        for name in os.listdir(fd):
            try:
                out.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
            except FileNotFoundError:
                continue
            except OSError as exc:
                self.on_error(f"{path}/{name}", exc)
        return out
