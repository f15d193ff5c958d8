"""The discovery phase of the indexer: walk, write in batches, sum subtrees.

The shared walker yields entries in a total, deterministic order, so the
path of the last entry of a committed batch is an exact resume point: the
batch, that cursor and the running subtree sums are committed in one
transaction, and a resumed run walks on from there (``start_after``)
without rewalking or rewriting anything.

Subtree sums use a stack of the open directories (pre-order walk: an entry's
parent is always on the stack); a directory's total is known when the walk
leaves it, and goes out with the batch of that moment. Memory is the batch
plus the depth of the tree.

A *target* below the location root (``sdjobs index SUBDIR``, ``watch``) is
walked from the location root with ``start_after=target``: the walker then
applies exactly the ``.gitignore`` files a full walk would, and the walk
stops at the first entry outside the target.
"""

from __future__ import annotations

import os
import stat
import time
from typing import Any

from ..fs.rules import GitIgnore, WalkRules
from ..fs.walker import walk
from ..store import index_store as ixs

BATCH = int(os.environ.get("SDJOBS_INDEX_BATCH") or 5000)
FLUSH_SECONDS = 1.0
# Seconds to sleep after each commit: lets tests stop a run in any phase of a tiny tree.
TEST_DELAY = float(os.environ.get("SDJOBS_INDEX_TEST_DELAY") or 0)
_KINDS = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}


def row_of(path: str, st: os.stat_result) -> tuple:
    """The stored row of an entry from its lstat."""
    fse = os.fsencode
    return (fse(path), fse(os.path.basename(path)), _KINDS.get(stat.S_IFMT(st.st_mode), "other"), st.st_size,
            st.st_ino, st.st_dev, st.st_mode, st.st_mtime_ns)


def is_included(root: str, path: str, rules: WalkRules, max_depth: int | None, recurse: bool) -> bool:
    """Whether a walk of ``root`` with these rules and depth would yield ``path``
    (checked name by name, reading the .gitignore files on the way)."""
    rel = os.path.relpath(path, root)
    if rel == "." or rel.startswith(".."):
        return rel == "."
    comps = rel.split("/")
    limit = 0 if not recurse else max_depth
    if limit is not None and len(comps) - 1 > limit:
        return False
    nf = rules.compile()
    ignores: list[tuple[GitIgnore, str]] = []
    here = root
    for i, name in enumerate(comps):
        if nf.gitignore:
            try:
                with open(os.path.join(here, ".gitignore"), "rb") as f:
                    gi = GitIgnore.parse(f.read().decode("utf-8", "surrogateescape"))
                if gi:
                    ignores.insert(0, (gi, ""))
            except OSError:
                pass
        if not nf.filter_names([name]):
            return False
        child = os.path.join(here, name)
        try:
            is_dir = stat.S_ISDIR(os.lstat(child).st_mode)
        except OSError:
            is_dir = i < len(comps) - 1
        if is_dir and name in nf.dir_names:
            return False
        for gi, prefix in ignores:
            verdict = gi.match_entry(prefix, name, is_dir)
            if verdict is not None:
                if verdict:
                    return False
                break
        ignores = [(gi, f"{prefix}{name}/") for gi, prefix in ignores]
        here = child
    return True


class Discovery:
    """Walks the targets of one run and writes what it finds.

    ``fresh``: the location had no entries, so rows go straight into
    ``entry``; otherwise they are staged in ``index_scan`` for the diff."""

    def __init__(self, ctx: Any, store: Any, job_id: int, location_id: int, root: str, rules: WalkRules,
                 max_depth: int | None, recurse: bool, state: dict, on_progress: Any) -> None:
        self.ctx, self.store, self.job_id, self.location_id = ctx, store, job_id, location_id
        self.root, self.rules, self.max_depth, self.recurse = root, rules, max_depth, recurse
        self.state = state
        self.on_progress = on_progress
        self.rows: list[tuple] = []
        self.totals: list[tuple[int, int, bytes]] = []
        self.stack: list[list] = []
        self.unreadable: set[str] = set(state["keep"])

    # -- writing ----------------------------------------------------------------
    def flush(self, cursor: str | None) -> None:
        store, st = self.store, self.state
        with store.transaction():
            if st["fresh"]:
                ixs.write_entries(store, self.location_id, self.rows)
                ixs.write_totals(store, self.location_id, self.totals)
            else:
                ixs.stage_entries(store, self.job_id, self.rows)
                ixs.stage_totals(store, self.job_id, self.totals)
            st["found"] += len(self.rows)
            st["stack"] = self.stack if self.stack else None
            ixs.save_run(store, self.job_id, "discovery", cursor, st)
        self.rows.clear()
        self.totals.clear()
        self.on_progress(cursor)
        if TEST_DELAY:
            time.sleep(TEST_DELAY)

    def on_error(self, path: str, exc: BaseException) -> None:
        if isinstance(exc, FileNotFoundError):
            self.ctx.warn("vanished during the walk", path=path)
            return
        self.ctx.error(path, exc)
        if self.stack and self.stack[-1][0] == path and len(self.state["keep"]) < 10_000:
            self.unreadable.add(path)  # a directory we could not list: keep what we knew below it
            self.state["keep"].append(path)

    # -- walking ------------------------------------------------------------------
    def run(self, cursor: str | None) -> None:
        st = self.state
        targets = st["targets"]
        while st["ti"] < len(targets):
            target = targets[st["ti"]]
            if st["stack"] is None:
                cursor = None
                if not self._start(target):
                    self._end_target()
                    continue
            else:
                self.stack = st["stack"]
            self._walk(target, cursor)
            self._end_target()

    def _start(self, target: str) -> bool:
        """Stage the target's own entry; True if there is a tree below it to walk."""
        if target == self.root:
            self.stack = [[target, 0, 0]]
            return True
        try:
            lst = os.lstat(target)
        except FileNotFoundError:
            return False
        except OSError as exc:
            self.ctx.error(target, exc)
            self.state["keep"].append(target)
            return False
        if not is_included(self.root, target, self.rules, self.max_depth, self.recurse):
            return False
        self.rows.append(row_of(target, lst))
        if not stat.S_ISDIR(lst.st_mode):
            return False
        depth = len(os.path.relpath(target, self.root).split("/")) - 1
        limit = 0 if not self.recurse else self.max_depth
        self.stack = [[target, 0, 0]]
        return limit is None or depth < limit

    def _end_target(self) -> None:
        """Close the directories still open, then move to the next target."""
        st = self.state
        stack = self.stack
        while stack:
            self._pop()
        self.stack = []
        st["ti"] += 1
        self.flush(None)

    def _pop(self) -> None:
        path, size, files = self.stack.pop()
        if self.stack:
            parent = self.stack[-1]
            parent[1] += size
            parent[2] += files
        if path == self.root:
            self.state["root_total"] = [size, files]
        elif path not in self.unreadable:
            self.totals.append((size, files, os.fsencode(path)))

    def _walk(self, target: str, cursor: str | None) -> None:
        start_after = cursor if cursor is not None else (None if target == self.root else target)
        walker = walk(self.root, self.rules, max_depth=self.max_depth, recurse=self.recurse,
                      start_after=start_after, on_error=self.on_error)
        fse = os.fsencode
        rows, stack, pop = self.rows, self.stack, self._pop
        top = stack[-1]
        top_path = top[0]
        check = self.ctx.check_interrupt
        deadline = time.monotonic() + FLUSH_SECONDS
        n = 0
        for e in walker:
            path, name, parent, kind, size = e[0], e[1], e[2], e[3], e[4]
            if parent != top_path:
                while len(stack) > 1 and stack[-1][0] != parent:
                    pop()
                top = stack[-1]
                top_path = top[0]
                if top_path != parent:
                    return  # left the target
            if kind == "file":
                top[1] += size
                top[2] += 1
            rows.append((fse(path), fse(name), kind, size, e[5], e[6], e[7], e[8]))
            if kind == "dir":
                top = [path, 0, 0]
                top_path = path
                stack.append(top)
            n += 1
            if len(rows) >= BATCH or (n & 255 == 0 and time.monotonic() >= deadline):
                check()
                self.flush(path)
                deadline = time.monotonic() + FLUSH_SECONDS
