"""A fast, deterministic, resumable recursive directory walker.

Order: pre-order depth-first with the names of each directory sorted by
their bytes, so a directory comes right before its contents and the whole
walk is in increasing `path_order_key` order (path components compared as
bytes).

Resuming: that total order makes `start_after` exact. An indexer commits
each batch of entries together with the path of the batch's last entry;
after a crash it calls `walk(root, start_after=saved_path)` and gets exactly
the entries after that path (for an unchanged tree; the saved path need not
exist any more). Rows it holds between two consecutive yielded entries, by
`path_order_key`, are entries that have disappeared.

Depth: the root itself is not yielded; its direct children have depth 0,
their children depth 1, and so on. `max_depth=0` lists just the root's
children (the same as `recurse=False`); `max_depth=None` is unlimited.

Symlinks are never followed (kind 'symlink'); only `root` itself is resolved
if it is a link. Directories are read through descriptors and entries are
stat'ed relative to them (`lstat(name, dir_fd=fd)`, the same call as
`DirEntry.stat(follow_symlinks=False)`), so trees deeper than PATH_MAX work,
and an explicit stack replaces recursion. Only the names of pending
directories are held (no DirEntry objects: a third of the memory for a
directory of 10^5 entries). The descriptors of the first `HELD_FDS`
directories down the current branch stay open, so climbing back up to one
of them costs no system call; deeper, climbing back up re-opens the parent
as `..` of the child, checked by (dev, inode), so at most `HELD_FDS` + 2
descriptors are open however deep the tree.

Errors never escape the walk: they go to `on_error(path, exc)` and the walk
goes on. If the callback raises, that exception propagates (a way to abort).

`walk_segments` is the same walk in bulk, for indexers that store every
entry: runs of consecutive entries of one directory, each as flat storage
values (paths as bytes) with the run's file sizes and metadata digest (``child_key``) summed
in the same pass, so a consumer does per-run, not per-entry, Python work.
`walk_lstat` is the walk with each entry's whole lstat (copy's walk).

This is the one walker of sdjobs; every job walks through it:

- `walk`: the index keeper, the index's verify and ephemeral listing, thumbs,
  validate, dupes' --then and the split of dupes' discovery, delete's tally;
- `walk_lstat`: copy (jobs/copy/walk.py), for the O_NOFOLLOW descriptors;
- `walk_segments`: the indexer (jobs/index/walk.py);
- its lean form, `fs.scan.lean_dirs` (unsorted, not resumable, the per-entry
  loop left to the caller): dupes' discovery and its check of an indexed tree.

The per-entry loops of `walk` and `walk_segments` stay two (`_loop`,
`_segments`) over the shared directory machinery of `_Walker` (listing, rules,
descriptors, resuming): `walk` built on `walk_segments` (decoding each
segment's values into entries) took 2.79 s where its own loop takes 2.05 s on
bench/dupes_data.py's 200,000-file tree (medians of 3, one process, loaded
2-core machine), and the indexer's bulk values built from entries would give
back what segments were made for.
"""

from __future__ import annotations

import bisect
import errno
import os
import struct
import sys
from typing import Literal, NamedTuple
from collections.abc import Callable, Iterator

from xxhash import xxh3_64_intdigest

from sdjobs.fs.rules import GitIgnore, NameFilter, WalkRules

Kind = Literal["file", "dir", "symlink", "other"]
OnError = Callable[[str, BaseException], None]


class WalkEntry(NamedTuple):
    """One entry, from `lstat` of the entry (links not followed).

    `path` and `name` are str with surrogateescape for non-UTF-8 bytes, so
    `os.fsencode(path)` gives back the exact on-disk bytes."""

    path: str
    name: str
    parent: str
    kind: Kind
    size: int
    inode: int
    device: int
    mode: int
    mtime_ns: int
    depth: int


class Segment(NamedTuple):
    """A run of consecutive entries of directory `parent`, from `walk_segments`.

    `values` holds 8 values per entry, in walk order: path and name as bytes
    (`os.fsencode`), kind, size, inode, device, mode, mtime_ns. `file_bytes`
    and `files` sum the regular files of the run, `digest` the `child_key` of
    every entry of it (not reduced modulo anything). `dirs` are the paths of
    the run's directories the walk does not enter (below the depth limit).
    `enter` is the path of the run's last entry when it is a directory the
    walk enters next: what follows are its entries (or, if it cannot be
    read, the rest of `parent`)."""

    parent: str
    values: list
    dirs: list[str]
    file_bytes: int
    files: int
    digest: int
    enter: str | None


_PACK_KEY = struct.Struct("<QQQQq").pack


def child_key(name: bytes, size: int, inode: int, device: int, mode: int, mtime_ns: int) -> int:
    """What one direct child adds to its directory's digest: a 64-bit hash of its
    name and metadata. A directory's digest is the sum of its children's keys
    (equal sums: unchanged children); the indexer stores it (``Segment.digest``)
    and dupes checks an indexed tree against it (``jobs/dupes/verify.py``)."""
    return xxh3_64_intdigest(name + _PACK_KEY(size, inode, device, mode, mtime_ns))


class DirectoryCycleError(OSError):
    """A directory is its own ancestor (e.g. a bind mount of a parent)."""


_KINDS: dict[int, Kind] = {0o100000: "file", 0o040000: "dir", 0o120000: "symlink"}
_S_IFMT = 0o170000
_S_IFDIR = 0o040000
_S_IFREG = 0o100000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_new_entry = tuple.__new__
HELD_FDS = 64

# (dirpath, sorted names, next index, depth of the children, ignores, (dev, ino))
Ignores = tuple[tuple[GitIgnore, str], ...]
_Frame = tuple[str, list[str], int, int, Ignores, tuple[int, int]]


def _ignore_error(path: str, exc: BaseException) -> None:
    pass


def read_gitignore(fd: int, path: str, report: OnError) -> GitIgnore | None:
    """The ``.gitignore`` in directory ``fd`` (never through a symlink), parsed;
    None (reported) if it cannot be read."""
    try:
        gfd = os.open(".gitignore", os.O_RDONLY | _NOFOLLOW, dir_fd=fd)
        with open(gfd, "rb") as f:
            data = f.read()
    except OSError as exc:
        report(os.path.join(path, ".gitignore"), exc)
        return None
    return GitIgnore.parse(data.decode("utf-8", "surrogateescape"))


def _ignored(ignores: Ignores, name: str, is_dir: bool) -> bool:
    """Deepest .gitignore with an opinion decides."""
    for gi, rel in ignores:
        verdict = gi.match_entry(rel, name, is_dir)
        if verdict is not None:
            return verdict
    return False


def _bytes_key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def path_order_key(path: str) -> tuple[bytes, ...]:
    """Sort key under which one walk yields its entries in increasing order."""
    return tuple(_bytes_key(c) for c in path.split("/") if c)


def sort_names(names: list[str]) -> None:
    """Sort names in place by their on-disk bytes.

    For valid UTF-8, code point order equals byte order, so a plain sort is
    right; only surrogate-escaped names (non-UTF-8 bytes) need the byte key."""
    names.sort()
    try:
        "".join(names).encode("utf-8")
    except UnicodeEncodeError:
        names.sort(key=_bytes_key)


def walk(
    root: str | os.PathLike[str],
    rules: WalkRules | None = None,
    *,
    max_depth: int | None = None,
    recurse: bool = True,
    start_after: str | None = None,
    on_error: OnError | None = None,
    follow_root: bool = True,
) -> Iterator[WalkEntry]:
    """Walk `root` and yield a `WalkEntry` for every entry the rules keep.

    `start_after` is a path as yielded by an earlier walk of the same `root`
    (same spelling); only entries after it in walk order are yielded.
    Raises ValueError at once for a `start_after` outside `root`; after that,
    errors go to `on_error` (default: ignored). `follow_root=False` opens
    `root` itself with O_NOFOLLOW too (a symlink there is an error, ELOOP)."""
    walker, top, limit, comps = _setup(root, rules, max_depth, recurse, start_after, on_error)
    return walker.run(top, limit, comps, walker._loop, follow_root)


def walk_lstat(
    root: str | os.PathLike[str],
    rules: WalkRules | None = None,
    *,
    on_error: OnError | None = None,
    follow_root: bool = True,
) -> Iterator[tuple[str, str, os.stat_result]]:
    """The entries of `walk` (same order, same errors) as (path, parent, lstat
    result): for callers that need the whole stat (copy: links, times, owner)."""
    walker, top, limit, comps = _setup(root, rules, None, True, None, on_error)
    return walker.run(top, limit, comps, lambda stack, limit: walker._loop(stack, limit, True), follow_root)


def walk_segments(
    root: str | os.PathLike[str],
    rules: WalkRules | None = None,
    *,
    max_depth: int | None = None,
    recurse: bool = True,
    start_after: str | None = None,
    on_error: OnError | None = None,
    chunk: int = 2048,
) -> Iterator[Segment]:
    """The entries of `walk` (same arguments, same order, same errors) as
    `Segment`s of at most `chunk` entries. A segment ends at the end of a
    directory's listing, after `chunk` entries, and after a directory the walk
    enters (which it opens only when the consumer asks for the next segment).
    Empty segments are not yielded."""
    walker, top, limit, comps = _setup(root, rules, max_depth, recurse, start_after, on_error)
    return walker.run(top, limit, comps, lambda stack, limit: walker._segments(stack, limit, max(1, chunk)))


def _setup(root, rules, max_depth, recurse, start_after, on_error) -> tuple[_Walker, str, int, list[str]]:
    top = os.fsdecode(os.fspath(root))
    if not top:
        raise ValueError("empty root")
    top = top.rstrip("/") or "/"
    comps = _resume_components(top, start_after)
    limit = sys.maxsize if max_depth is None else max_depth
    if not recurse:
        limit = 0
    return _Walker((rules or WalkRules()).compile(), on_error or _ignore_error), top, limit, comps


def _resume_components(top: str, start_after: str | None) -> list[str]:
    if start_after is None:
        return []
    prefix = top if top.endswith("/") else top + "/"
    if not start_after.startswith(prefix):
        raise ValueError(f"start_after {start_after!r} is not inside {top!r}")
    comps = [c for c in start_after[len(prefix):].split("/") if c]
    if not comps or any(c in (".", "..") for c in comps):
        raise ValueError(f"bad start_after {start_after!r}")
    return comps


class _Walker:
    __slots__ = ("nf", "report", "ancestors", "fd", "fd_key", "held")

    def __init__(self, nf: NameFilter, report: OnError) -> None:
        self.nf = nf
        self.report = report
        self.ancestors: set[tuple[int, int]] = set()
        self.fd: int | None = None
        self.fd_key: tuple[int, int] = (-1, -1)
        self.held: list[tuple[int, tuple[int, int]]] = []  # (fd, key) of ancestors, outermost first

    def _list(self, fd: int, path: str, ignores: Ignores) -> tuple[list[str], Ignores]:
        """Read, filter and sort a directory's names; pick up its .gitignore."""
        names = os.listdir(fd)
        nf = self.nf
        if nf.gitignore and ".gitignore" in names:
            gi = read_gitignore(fd, path, self.report)
            if gi:
                ignores = ((gi, ""),) + ignores
        names = nf.filter_names(names)
        sort_names(names)
        return names, ignores

    def _enter(self, name: str, path: str, depth: int, ignores: Ignores) -> _Frame | None:
        """Open child directory `name` of the current fd; on success the
        current fd is switched to it and its frame is returned."""
        try:
            cfd = os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=self.fd)
        except OSError as exc:
            self.report(path, exc)
            return None
        try:
            st = os.fstat(cfd)
            key = (st.st_dev, st.st_ino)
            if key in self.ancestors:
                raise DirectoryCycleError(errno.ELOOP, "directory cycle", path)
            child_ignores = tuple((g, f"{rel}{name}/") for g, rel in ignores)
            names, child_ignores = self._list(cfd, path, child_ignores)
        except OSError as exc:
            os.close(cfd)
            self.report(path, exc)
            return None
        self.ancestors.add(key)
        if self.fd is not None and len(self.held) < HELD_FDS:
            self.held.append((self.fd, self.fd_key))
            self.fd = None
        self._switch(cfd, key)
        return (path, names, 0, depth, child_ignores, key)

    def _switch(self, fd: int | None, key: tuple[int, int]) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd, self.fd_key = fd, key

    def _reopen(self, path: str, key: tuple[int, int]) -> bool:
        """Make the current fd the directory `path` (the parent of the current
        one): the held descriptor, else via '..', else by path. False if none works."""
        if self.held and self.held[-1][1] == key:
            self._switch(*self.held.pop())
            return True
        err: OSError = OSError(errno.ESTALE, "directory changed during walk", path)
        for where, dir_fd in (("..", self.fd), (path, None)):
            if where == ".." and dir_fd is None:
                continue
            try:
                fd = os.open(where, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as exc:
                err = exc
                continue
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == key:
                self._switch(fd, key)
                return True
            os.close(fd)
        self._switch(None, key)
        self.report(path, err)
        return False

    def _resume(self, frame: _Frame, comps: list[str], limit: int) -> list[_Frame]:
        """Build the stack positioned just after the path given by `comps`."""
        stack: list[_Frame] = []
        cur: _Frame | None = frame
        for comp in comps:
            assert cur is not None
            dirpath, names, _, depth, ignores, key = cur
            i = bisect.bisect_left(names, _bytes_key(comp), key=_bytes_key)
            found = i < len(names) and names[i] == comp
            stack.append((dirpath, names, i + found, depth, ignores, key))
            cur = None
            if not found or depth >= limit:
                break
            try:
                st = os.lstat(comp, dir_fd=self.fd)
            except OSError:
                break  # vanished: its siblings after it still follow
            is_dir = st.st_mode & _S_IFMT == _S_IFDIR
            if not is_dir or comp in self.nf.dir_names or _ignored(ignores, comp, True):
                break
            path = dirpath + comp if dirpath.endswith("/") else f"{dirpath}/{comp}"
            cur = self._enter(comp, path, depth + 1, ignores)
            if cur is None:
                break
        if cur is not None:
            stack.append(cur)
        return stack

    def run(self, top: str, limit: int, comps: list[str], loop: Callable, follow_root: bool = True) -> Iterator:
        report = self.report
        try:
            fd = os.open(top, _DIR_FLAGS if follow_root else _DIR_FLAGS | _NOFOLLOW)
        except OSError as exc:
            report(top, exc)
            return
        try:
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            self._switch(fd, key)
            self.ancestors.add(key)
            try:
                names, ignores = self._list(fd, top, ())
            except OSError as exc:
                report(top, exc)
                return
            stack = self._resume((top, names, 0, 0, ignores, key), comps, limit)
            yield from loop(stack, limit)
        finally:
            self._switch(None, (-1, -1))
            while self.held:
                os.close(self.held.pop()[0])

    def _loop(self, stack: list[_Frame], limit: int, raw: bool = False) -> Iterator:
        report, ancestors = self.report, self.ancestors
        dir_names = self.nf.dir_names
        lstat, kinds, new = os.lstat, _KINDS, _new_entry
        while stack:
            dirpath, names, i, depth, ignores, key = stack.pop()
            if key != self.fd_key and not self._reopen(dirpath, key):
                ancestors.discard(key)
                continue
            fd = self.fd
            prefix = dirpath if dirpath.endswith("/") else dirpath + "/"
            n = len(names)
            while i < n:
                name = names[i]
                i += 1
                try:
                    st = lstat(name, dir_fd=fd)
                except OSError as exc:
                    report(prefix + name, exc)
                    continue
                mode = st.st_mode
                fmt = mode & _S_IFMT
                is_dir = fmt == _S_IFDIR
                if is_dir and name in dir_names:
                    continue
                if ignores and _ignored(ignores, name, is_dir):
                    continue
                path = prefix + name
                if raw:
                    yield path, dirpath, st
                else:
                    yield new(WalkEntry, (path, name, dirpath, kinds.get(fmt, "other"), st.st_size,
                                          st.st_ino, st.st_dev, mode, st.st_mtime_ns, depth))
                if is_dir and depth < limit:
                    child = self._enter(name, path, depth + 1, ignores)
                    if child is not None:
                        stack.append((dirpath, names, i, depth, ignores, key))
                        stack.append(child)
                        break
            else:
                ancestors.discard(key)

    def _segments(self, stack: list[_Frame], limit: int, chunk: int) -> Iterator[Segment]:
        """`_loop` in bulk (see `Segment`): one pass per entry builds its values,
        sums and digest; keep the two loops in step."""
        report, ancestors = self.report, self.ancestors
        dir_names = self.nf.dir_names
        lstat, kinds, key = os.lstat, _KINDS, xxh3_64_intdigest
        pack, enc = _PACK_KEY, str.encode
        while stack:
            dirpath, names, i, depth, ignores, dkey = stack.pop()
            if dkey != self.fd_key and not self._reopen(dirpath, dkey):
                ancestors.discard(dkey)
                continue
            fd = self.fd
            prefix = dirpath if dirpath.endswith("/") else dirpath + "/"
            prefix_b = enc(prefix, "utf-8", "surrogateescape")
            deeper = depth < limit
            n = len(names)
            values: list = []
            dirs: list[str] = []
            file_bytes = files = digest = count = 0
            while i < n:
                name = names[i]
                i += 1
                try:
                    st = lstat(name, dir_fd=fd)
                except OSError as exc:
                    report(prefix + name, exc)
                    continue
                mode = st.st_mode
                fmt = mode & _S_IFMT
                if fmt == _S_IFDIR:
                    if name in dir_names or (ignores and _ignored(ignores, name, True)):
                        continue
                elif ignores and _ignored(ignores, name, False):
                    continue
                name_b = enc(name, "utf-8", "surrogateescape")
                size, inode, device, mtime = st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns
                values += (prefix_b + name_b, name_b, kinds.get(fmt, "other"), size, inode, device, mode, mtime)
                digest += key(name_b + pack(size, inode, device, mode, mtime))
                count += 1
                if fmt == _S_IFREG:
                    file_bytes += size
                    files += 1
                elif fmt == _S_IFDIR:
                    path = prefix + name
                    if deeper:
                        yield Segment(dirpath, values, dirs, file_bytes, files, digest, path)
                        values, dirs = [], []
                        file_bytes = files = digest = count = 0
                        child = self._enter(name, path, depth + 1, ignores)
                        if child is not None:
                            stack.append((dirpath, names, i, depth, ignores, dkey))
                            stack.append(child)
                            break
                        continue
                    dirs.append(path)
                if count >= chunk:
                    yield Segment(dirpath, values, dirs, file_bytes, files, digest, None)
                    values, dirs = [], []
                    file_bytes = files = digest = count = 0
            else:
                if count:
                    yield Segment(dirpath, values, dirs, file_bytes, files, digest, None)
                ancestors.discard(dkey)
