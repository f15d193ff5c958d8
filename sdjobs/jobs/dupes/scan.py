"""Discovery for dupes and validate: the walker, spread over the worker pool.

The tree is split at its first levels into subtrees (never below a
directory holding a ``.gitignore`` when .gitignore is honoured, because its
patterns reach into the subtrees); each subtree is walked by a worker with
the same rules. What comes back is columnar (parallel lists), which pickles
several times faster than one tuple per file.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from array import array
from collections.abc import Callable, Iterable

from ...fs.rules import WalkRules
from ...fs.scan import ignored, lean_dirs
from ...fs.walker import walk

SPLIT_DEPTH = 3          # levels the main process may expand to find enough subtrees
TASKS_PER_WORKER = 8     # subtrees wanted per worker, for balance
CHUNKS_PER_WORKER = 4    # ctx.map chunks per worker: each costs a fan-out token round trip


@dataclasses.dataclass
class Filters:
    min_size: int = 0
    max_size: int | None = None
    exts: tuple[str, ...] = ()   # lower-case, without the dot; empty: every extension

    def keep(self, name: str, size: int) -> bool:
        if size < self.min_size or (self.max_size is not None and size > self.max_size):
            return False
        if self.exts:
            dot = name.rfind(".")
            return dot > 0 and name[dot + 1:].lower() in self.exts
        return True


@dataclasses.dataclass
class Files:
    """Regular files found, as parallel lists (index i is one file)."""

    paths: list[str] = dataclasses.field(default_factory=list)
    sizes: list[int] = dataclasses.field(default_factory=list)
    inos: list[int] = dataclasses.field(default_factory=list)
    devs: list[int] = dataclasses.field(default_factory=list)
    mtimes: list[int] = dataclasses.field(default_factory=list)
    args: list[int] = dataclasses.field(default_factory=list)   # which PATH argument it came from
    known: list[str] = dataclasses.field(default_factory=list)  # digest the index vouches for, or ""

    def __len__(self) -> int:
        return len(self.paths)

    def extend(self, other: Files) -> None:
        for f in dataclasses.fields(self):
            getattr(self, f.name).extend(getattr(other, f.name))

    def add(self, path: str, size: int, ino: int, dev: int, mtime: int, arg: int) -> None:
        self.paths.append(path)
        self.sizes.append(size)
        self.inos.append(ino)
        self.devs.append(dev)
        self.mtimes.append(mtime)
        self.args.append(arg)
        self.known.append("")

    def take(self, idx: Iterable[int]) -> Files:
        idx = list(idx)
        out = Files()
        for f in dataclasses.fields(self):
            col = getattr(self, f.name)
            setattr(out, f.name, [col[i] for i in idx])
        return out

    def to_state(self) -> list[list]:
        return [getattr(self, f.name) for f in dataclasses.fields(self)]

    @classmethod
    def from_state(cls, cols: list[list]) -> Files:
        return cls(*cols)


@dataclasses.dataclass
class ScanStats:
    dirs: int = 0
    symlinks: int = 0
    other: int = 0
    filtered: int = 0
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def merge(self, other: ScanStats) -> None:
        self.dirs += other.dirs
        self.symlinks += other.symlinks
        self.other += other.other
        self.filtered += other.filtered
        self.errors.extend(other.errors)


def walk_subtree(task: tuple) -> tuple[tuple, ScanStats]:
    """Worker: every regular file under one directory that passes the filters,
    with what the index knows of each when ``index`` (the index's worker-side reads,
    ``store/index_reader.py``) is given; packed (see ``pack``)."""
    files, st = _walked(task)
    return pack(files), st


def _walked(task: tuple) -> tuple[Files, ScanStats]:
    root, arg, rules, filters, recurse, index = task[:6]
    files, st = _walk_subtree((root, arg, rules, filters, recurse))
    if index is not None and len(files):
        from .stored import lookup

        files.known = lookup(index, files, subtree=root)
    return files, st


def walk_subtrees(tasks: list[tuple]) -> list[tuple[tuple | list, ScanStats]]:
    """Worker: ``walk_subtree`` of each task of one chunk (see ``guided``); when the tasks
    name a count of shards, the chunk's files cut into them, the files of each PATH
    argument apart (``dupes.shards.cut_by_arg``), with the chunk's stats on the first."""
    if not tasks or len(tasks[0]) <= 6 or not tasks[0][6]:
        return [walk_subtree(t) for t in tasks]
    from .shards import cut_by_arg

    files, st = Files(), ScanStats()
    for t in tasks:
        f, s = _walked(t)
        files.extend(f)
        st.merge(s)
    cuts = cut_by_arg(files, tasks[0][6])
    return [(c, st if i == 0 else ScanStats()) for i, c in enumerate(cuts)] or [([], st)]


def guided(tasks: list, workers: int) -> list[list]:
    """``tasks`` cut into chunks for the workers, about CHUNKS_PER_WORKER each, each
    that share of what is left (down to a third of the first), so the last ones are
    small and the workers end the walk together. Not smaller: each chunk costs a round
    trip through the job process, and a walk of ``mixed`` (bench/dupes_data.py, 101
    subtrees) cut down to an eighth of the first ended in a dozen chunks of one subtree
    each; the whole command took 9 ms longer than with a third (median of the per-round
    differences, 15 interleaved rounds, 2026-12-07)."""
    out, a, n = [], 0, len(tasks)
    share = workers * CHUNKS_PER_WORKER
    first = max(1, n // share)
    while a < n:
        k = max(1, first // 3, min(first, (n - a) // share))
        out.append(tasks[a:a + k])
        a += k
    return out


def pack(files: Files) -> tuple:
    """Files as a NUL-joined string and int64 arrays: pickles ~5x faster than lists."""
    return ("\0".join(files.paths), *(array("q", col).tobytes() for col in
                                      (files.sizes, files.inos, files.devs, files.mtimes)), files.args[:1], len(files),
            "\0".join(files.known) if any(files.known) else "")


def unpack(packed: tuple) -> Files:
    joined, sizes, inos, devs, mtimes, arg, n, known = packed
    if not n:
        return Files()
    cols = []
    for raw in (sizes, inos, devs, mtimes):
        a = array("q")
        a.frombytes(raw)
        cols.append(a.tolist())
    return Files(joined.split("\0"), *cols, arg * n, known.split("\0") if known else [""] * n)


def _walk_subtree(task: tuple[str, int, dict, Filters, bool]) -> tuple[Files, ScanStats]:
    """Every regular file under one directory that passes the filters: the
    walker's lean form (``fs.scan.lean_dirs``), with its rules (.gitignore files
    included), and one lstat per entry in this loop -- nothing else per entry
    (see fs/scan.py for why the loop is here and not in the walker: the figures)."""
    root, arg, rules_dict, filters, recurse = task
    rules = WalkRules.from_dict(rules_dict)
    dir_names = rules.compile().dir_names
    files, st = Files(), ScanStats()
    paths, sizes, inos, devs, mtimes = files.paths, files.sizes, files.inos, files.devs, files.mtimes
    keep, lstat, errors = filters.keep, os.lstat, st.errors
    least = filters.min_size if not filters.exts and filters.max_size is None else None  # only a minimum size

    def on_error(path: str, exc: BaseException) -> None:
        errors.append((path, getattr(exc, "strerror", None) or str(exc)))

    for d in lean_dirs(root, rules, on_error=on_error):
        names, fd, prefix, ignores = d.names, d.fd, d.prefix, d.ignores
        if names is None:
            continue
        for name in names:
            try:
                e = lstat(name, dir_fd=fd)
            except OSError as exc:
                on_error(prefix + name, exc)
                continue
            fmt = e.st_mode & 0o170000
            if ignores and ignored(ignores, name, fmt == 0o040000):
                continue
            if fmt == 0o100000:
                size = e.st_size
                if size >= least if least is not None else keep(name, size):
                    paths.append(prefix + name)
                    sizes.append(size)
                    inos.append(e.st_ino)
                    devs.append(e.st_dev)
                    mtimes.append(e.st_mtime_ns)
                else:
                    st.filtered += 1
            elif fmt == 0o040000:
                if name not in dir_names:
                    st.dirs += 1
                    if recurse:
                        d.subdirs.append(name)
            elif fmt == 0o120000:
                st.symlinks += 1
            else:
                st.other += 1
    files.args = [arg] * len(paths)
    files.known = [""] * len(paths)
    return files, st


def split(root: str, arg: int, rules: WalkRules, filters: Filters, want: int,
          on_error: Callable[[str, BaseException], None]) -> tuple[Files, ScanStats, list[str]]:
    """Expand the first levels of ``root`` in this process until there are
    ``want`` subtrees; returns the files met on the way, and the subtrees."""
    files, st = Files(), ScanStats()
    frontier, whole = [root], []
    for _level in range(SPLIT_DEPTH):
        nxt: list[str] = []
        for d in frontier:
            if rules.gitignore and os.path.lexists(os.path.join(d, ".gitignore")):
                whole.append(d)
                continue
            for e in walk(d, rules, recurse=False, on_error=on_error):
                if e.kind == "file":
                    if filters.keep(e.name, e.size):
                        files.add(e.path, e.size, e.inode, e.device, e.mtime_ns, arg)
                    else:
                        st.filtered += 1
                elif e.kind == "dir":
                    st.dirs += 1
                    nxt.append(e.path)
                elif e.kind == "symlink":
                    st.symlinks += 1
                else:
                    st.other += 1
        frontier = nxt
        if len(frontier) + len(whole) >= want or not frontier:
            break
    return files, st, whole + frontier


def scan(roots: list[str], rules: WalkRules, filters: Filters, mapper, workers: int,
         on_error: Callable[[str, str], None], check: Callable[[], None],
         index=None) -> tuple[Files, ScanStats]:
    """All regular files under ``roots`` (files named directly count too).

    ``mapper(fn, items, chunksize)`` is the job's ``ctx.map``; ``check`` its
    interrupt check. Subtrees go out several to a chunk, about
    CHUNKS_PER_WORKER chunks per worker: each chunk costs a round trip to the
    runner for a fan-out token, and leaves its worker idle meanwhile."""
    files, stats, tasks = plan_walk(roots, rules, filters, workers, on_error, check, index)
    for walked in mapper(walk_subtrees, guided(tasks, workers), 1):
        for sub_files, sub_stats in walked:
            files.extend(unpack(sub_files))
            stats.merge(sub_stats)
        check()
    for path, msg in stats.errors:
        on_error(path, msg)
    stats.errors = []
    return files, stats


def plan_walk(roots: list[str], rules: WalkRules, filters: Filters, workers: int,
              on_error: Callable[[str, str], None], check: Callable[[], None], index=None,
              shards: int = 0) -> tuple[Files, ScanStats, list[tuple]]:
    """What ``scan`` does before the workers walk: the files named directly and those of
    the first levels (walked here), and the subtrees' tasks for the workers (with
    ``shards``, each task cuts its files into that many shards: ``dupes.shards``)."""
    files, stats = Files(), ScanStats()
    tasks: list[tuple] = []
    rd = rules.to_dict()

    def report(path: str, exc: BaseException) -> None:
        on_error(path, getattr(exc, "strerror", None) or str(exc))

    for arg, root in enumerate(roots):
        try:
            st = os.stat(root)  # a root that is a symlink is followed, as in every finder
        except OSError as exc:
            report(root, exc)
            continue
        if stat.S_ISREG(st.st_mode):
            if filters.keep(os.path.basename(root), st.st_size):
                files.add(root, st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns, arg)
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        stats.dirs += 1
        top, top_stats, subtrees = split(root, arg, rules, filters, workers * TASKS_PER_WORKER, report)
        files.extend(top)
        stats.merge(top_stats)
        tasks += [(d, arg, rd, filters, True, index, *((shards,) if shards else ())) for d in subtrees]
        check()
    if index is not None and len(files):  # the files met while splitting, looked up one by one
        from .stored import lookup

        files.known = lookup(index, files, subtree=None)
    return files, stats, tasks
