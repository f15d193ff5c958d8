"""The job side of keeping the index true (``store/index_sync.py``): what delete, copy and
move call when they change files under an indexed location.

- delete: ``IndexKeeper.forget`` with the targets of each batch, when the batch ends
  (and on any stop), its progress kept in the job's checkpoint (``synced``), so a resumed
  run forgets what an earlier run removed but did not get to tell the index;
- copy and move: ``keep_index`` once the job stops: the destinations inside an indexed
  location are walked with the location's rules and recorded (content ids carried over from
  the source's entries when its size and mtime match), and a move's sources are forgotten.

Everything is judged on disk at that moment, so doing it twice changes nothing. The index
is the library's view, not the user's files: a failure to update it is a warning (re-index
to catch up), never a failed job.
"""

from __future__ import annotations

import os
import stat
import time
from typing import Any

from ..fs.rules import GitIgnore, WalkRules
from ..fs.walker import walk
from ..store.index_sync import Written, canonical_gone, kind_of
from .errors import Interrupt, PauseRequested, ShutdownRequested

BATCH = 2000          # entries per transaction
FLUSH_EVERY = 1.0     # seconds between a delete's index updates (and at most this many targets)
FLUSH_TARGETS = 500


class IndexKeeper:
    def __init__(self, ctx, *, interruptible: bool = True) -> None:
        self.ctx = ctx
        self.interruptible = interruptible  # False once the job is stopping anyway
        data = ctx.library.data
        self.data: Any
        try:
            self.data = data if data is not None and data.anything_indexed() else None
        except Exception:  # noqa: BLE001 - a library without the index tables, say
            self.data = None
        self.warned = False
        self.flushed_at = time.monotonic()
        self.changed = 0       # entries recorded or forgotten, and the time it took (for the log)
        self.seconds = 0.0

    def due(self, pending: int) -> bool:
        return self.data is not None and (pending >= FLUSH_TARGETS or time.monotonic() - self.flushed_at >= FLUSH_EVERY)

    def forget(self, paths: list[str]) -> None:
        """Forget what is gone at and below ``paths``."""
        self.flushed_at = time.monotonic()
        if self.data is None or not paths:
            return
        started = time.monotonic()
        try:
            self.changed += self.data.forget_gone(paths)
        except Exception as exc:  # noqa: BLE001 - the index is a courtesy: its failure warns
            self._failed(paths[0], exc)
        self.seconds += time.monotonic() - started

    def report(self) -> None:
        """One log line: what the index was told, and what it cost."""
        if self.changed:
            self.ctx.log(f"index: {self.changed:,} entries updated ({self.seconds:.2f} s)")

    def copied(self, pairs: list[tuple[str, str]], *, move: bool) -> None:
        """Record the destinations of (source, target) pairs; for a move, forget the sources."""
        if self.data is None:
            return
        started = time.monotonic()
        for src, target in pairs:
            try:
                self._record_tree(src, target)
            except Interrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - the index is a courtesy: its failure warns
                self._failed(target, exc)
        if move:  # a moved image keeps its thumbnails, wherever it went
            for src, target in pairs:
                if not os.path.lexists(src) and os.path.lexists(target):
                    try:
                        self.data.move_thumb_sources(canonical_gone(src), canonical_gone(target))
                    except Exception as exc:  # noqa: BLE001 - the index is a courtesy: its failure warns
                        self._failed(target, exc)
        self.seconds += time.monotonic() - started
        if move:
            self.forget([src for src, _ in pairs])

    def _failed(self, path: str, exc: BaseException) -> None:
        if not self.warned:
            self.warned = True
            self.ctx.warn(f"the index was not updated ({type(exc).__name__}: {exc}); `sdjobs index` on the"
                          " location brings it up to date", path=path)

    # -- a copied tree ------------------------------------------------------------------
    def _record_tree(self, src: str, target: str) -> None:
        data = self.data
        real = canonical_gone(target)
        loc = data.location_at(real)
        if loc is None or not os.path.lexists(real):
            return
        rules = WalkRules.from_dict(loc.rules)
        limit = loc.max_depth if loc.recurse else 0
        below = self._depth_below(loc, real, rules, limit)
        if below is False:
            return  # the location's rules leave the target out
        parent = os.path.dirname(real)
        if real != loc.path and parent != loc.path and \
                getattr(data.entries_at(loc.id, [parent]).get(parent), "kind", None) != "dir":
            return  # a directory the index does not know (made since, or left out): its next run records it all
        src_real = canonical_gone(src)
        src_loc = data.location_at(src_real)
        ignores = _ancestor_ignores(loc.path, real) if rules.gitignore else []
        top = os.lstat(real)
        if ignores and _ignored(ignores, loc.path, real, stat.S_ISDIR(top.st_mode)):
            return
        self.new_tree = not data.has_entries(loc.id, real)  # (checked before the first batch)
        batch: list[tuple[str, os.stat_result | tuple]] = []
        if real != loc.path:
            batch.append((real, top))
        if stat.S_ISDIR(top.st_mode) and (below is None or below >= 0):
            for e in walk(real, rules, max_depth=below):
                if ignores and _ignored(ignores, loc.path, e.path, e.kind == "dir", start=len(real)):
                    continue
                batch.append((e.path, (e.kind, e.size, e.inode, e.device, e.mode, e.mtime_ns)))
                if len(batch) >= BATCH:
                    self._write(loc, src_loc, real, src_real, batch)
                    batch = []
        self._write(loc, src_loc, real, src_real, batch)

    @staticmethod
    def _depth_below(loc, real: str, rules: WalkRules, limit: int | None):
        """The walk depth left under ``real`` (None: unlimited; negative: none), or False when
        the location's name rules leave ``real`` itself out."""
        if real == loc.path:
            return limit
        comps = real[len(loc.path.rstrip("/")) + 1:].split("/")
        nf = rules.compile()
        for i, comp in enumerate(comps):
            if not nf.filter_names([comp]) or (comp in nf.dir_names and (i < len(comps) - 1 or os.path.isdir(real))):
                return False
        depth = len(comps) - 1  # the root's children are at depth 0
        if limit is not None and depth > limit:
            return False
        return None if limit is None else limit - depth - 1

    def _write(self, loc, src_loc, real: str, src_real: str, batch: list) -> None:
        if not batch:
            return
        if self.interruptible:
            self.ctx.check_interrupt()
        sources = {p: src_real + p[len(real):] for p, _ in batch}
        known = self.data.entries_at(src_loc.id, list(sources.values())) if src_loc is not None else {}
        rows = []
        for path, st in batch:
            if isinstance(st, os.stat_result):
                st = (kind_of(st.st_mode), st.st_size, st.st_ino, st.st_dev, st.st_mode, st.st_mtime_ns)
            kind, size, inode, device, mode, mtime_ns = st
            e = known.get(sources[path])
            carried = None
            if e is not None and kind == "file" and e.kind == "file" and e.size == size and e.mtime_ns == mtime_ns:
                carried = (e.cas_id, e.full_hash, e.kind_class, e.width, e.height, e.taken_at)
            rows.append(Written(path, kind, size, inode, device, mode, mtime_ns, carried))
        self.data.record_written(loc, rows, new_tree=self.new_tree)
        self.changed += len(rows)


def _ancestor_ignores(root: str, path: str) -> list[tuple[GitIgnore, str]]:
    """The .gitignore files of the directories from the location root down to the parent of
    ``path`` (deepest first): a walk of ``path`` alone would not see them; the index's does."""
    out = []
    d = os.path.dirname(path) if path != root else root
    while True:
        try:
            with open(os.path.join(d, ".gitignore"), "rb") as f:
                gi = GitIgnore.parse(f.read().decode("utf-8", "surrogateescape"))
            if gi:
                out.append((gi, d))
        except OSError:
            pass
        if len(d) <= len(root):
            return out
        d = os.path.dirname(d)


def _ignored(ignores: list[tuple[GitIgnore, str]], root: str, path: str, is_dir: bool, start: int = 0) -> bool:
    """Whether those .gitignore files leave ``path`` out, or one of the directories above it
    (from ``start``, a length of ``path``: what is above it was checked already)."""
    d = path
    while len(d) > len(root):
        parent, name = os.path.split(d)
        if len(d) > start:
            for gi, gdir in ignores:
                if parent == gdir or parent.startswith(gdir.rstrip("/") + "/"):
                    rel = parent[len(gdir.rstrip("/")) + 1:]
                    verdict = gi.match_entry(rel + "/" if rel else "", name, is_dir if d == path else True)
                    if verdict is not None:
                        if verdict:
                            return True
                        break
        d = parent
    return False


def keep_index(ctx, sources: list[str], targets: list[str], *, move: bool, exc: BaseException | None) -> None:
    """copy's one call, when it stops: record what it wrote and, for a move, forget what it
    removed. A copy that pauses (or shuts down) leaves it to the run that finishes it; a move
    does it at every stop, so the index never lists a source it removed."""
    if isinstance(exc, (PauseRequested, ShutdownRequested)) and not move:
        return
    if exc is not None and not isinstance(exc, (Exception, Interrupt)):
        return  # the process lost its claim, or is going down: the next run does it
    keeper = IndexKeeper(ctx, interruptible=exc is None)
    if keeper.data is None:
        return
    ctx.progress(message="updating the index")
    keeper.copied(list(zip(sources, targets, strict=True)), move=move)
    keeper.report()
