"""Discovery for a full re-index: verify directories by digest, on all cores.

The tree is cut into units: the location root's direct children (and, when
there are few top-level directories, theirs), then one unit per remaining
directory subtree. Each unit is walked in a worker process (``ctx.map``),
which looks up every directory's stored digest and subtree totals and
computes them afresh (see ``fs.walker.child_key``; the walk comes in
segments, with their digests summed by the walker). Only what differs comes
back: the direct children of a directory whose digest changed (as flat
values, to be staged and diffed), and new subtree totals. An unchanged tree
writes nothing but the run's bookkeeping.

A unit's result is committed in one transaction with the count of units
done: a resumed run walks again at most the units that were in flight.
A directory with more than ``ROW_CAP`` direct children that changed is not
sent back row by row; the main process lists it again afterwards.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ...fs.rules import WalkRules
from ...fs.walker import walk, walk_segments
from ...fs.walker import child_key
from .walk import BATCH, DIGEST_MASK, TEST_DELAY

ROW_CAP = int(os.environ.get("SDJOBS_INDEX_ROW_CAP") or 20_000)


def depth_of(root: str, path: str) -> int:
    """Walker depth of ``path`` below ``root`` (the root's children: 0; the root: -1)."""
    return -1 if path == root else os.path.relpath(path, root).count("/")


def dir_limit(root: str, path: str, max_depth: int | None, recurse: bool) -> int | None:
    """The walker's ``max_depth`` that yields ``path``'s children but not theirs."""
    limit = 0 if not recurse else max_depth
    own = depth_of(root, path) + 1
    return own if limit is None else min(limit, own)


def children(root: str, rules: WalkRules, path: str, max_depth: int | None, recurse: bool,
             on_error: Any = None):
    """The walker's entries directly inside directory ``path`` (same rules, same
    .gitignore files as a full walk), in walk order."""
    walker = walk(root, rules, max_depth=dir_limit(root, path, max_depth, recurse),
                  start_after=None if path == root else path, on_error=on_error)
    for e in walker:
        if e.parent != path:
            return
        yield e


def plan_units(root: str, rules: WalkRules, max_depth: int | None, recurse: bool, workers: int) -> list:
    """[(directory, direct_only)]: the root's own children first, then subtrees."""
    units: list[list] = [[root, True]]
    limit = 0 if not recurse else max_depth
    if limit == 0:
        return units
    top = [e.path for e in children(root, rules, root, max_depth, recurse) if e.kind == "dir"]
    if len(top) >= 2 * workers or limit == 1:
        return units + [[d, False] for d in top]
    for d in top:
        units.append([d, True])
        units += [[e.path, False] for e in children(root, rules, d, max_depth, recurse) if e.kind == "dir"]
    return units


def verify_unit(task: tuple) -> dict:
    """Walk one unit in a worker; report what differs from the library."""
    reader, location_id, root, unit, direct_only, rules, max_depth, recurse = task
    return _Verify(reader, location_id, root, WalkRules.from_dict(rules), max_depth, recurse).run(unit, direct_only)


class _Verify:
    def __init__(self, reader, location_id, root, rules, max_depth, recurse) -> None:
        self.reader, self.location_id, self.root = reader, location_id, root
        self.rules, self.max_depth, self.recurse = rules, max_depth, recurse
        self.out: dict[str, Any] = {"walked": 0, "dirs": [], "totals": [], "errors": [], "base": None,
                                    "stored": None}
        self.stack: list[list] = []

    def _stored(self, path: str):
        return self.reader.dir_stored(self.location_id, path, path == self.root)

    def _frame(self, path: str) -> list:
        # path, size, files, digest, direct children as flat values (None past ROW_CAP rows),
        # stored, unreadable
        return [path, 0, 0, 0, [], self._stored(path), False]

    def on_error(self, path: str, exc: BaseException) -> None:
        vanished = isinstance(exc, FileNotFoundError)
        self.out["errors"].append((path, getattr(exc, "strerror", None) or str(exc), vanished))
        if not vanished and self.stack and self.stack[-1][0] == path:
            self.stack[-1][6] = True  # could not list it: what is stored below it stays

    def _close(self, base: bool, direct_only: bool) -> None:
        path, size, files, digest, rows, stored, unreadable = self.stack.pop()
        if self.stack:
            parent = self.stack[-1]
            parent[1] += size
            parent[2] += files
        if base:
            self.out["base"], self.out["stored"] = (size, files), stored
        if unreadable:
            return
        path_b = os.fsencode(path)
        if stored is None or stored[0] != digest:
            self.out["dirs"].append((path_b, digest, rows))
        if path != self.root and not (base and direct_only):
            if stored is None or (stored[1], stored[2]) != (size, files):
                self.out["totals"].append((size, files, path_b))

    def run(self, unit: str, direct_only: bool) -> dict:
        loc_limit = 0 if not self.recurse else self.max_depth
        limit = dir_limit(self.root, unit, self.max_depth, self.recurse) if direct_only else loc_limit
        # In a direct-only unit the child directories that the walk would enter are
        # units of their own; those at the location's depth limit are leaves (a frame,
        # digest 0), as in the first run.
        own_frames = not direct_only or (loc_limit is not None and limit >= loc_limit)
        segments = walk_segments(self.root, self.rules, max_depth=limit,
                                 start_after=None if unit == self.root else unit, on_error=self.on_error)
        stack = self.stack
        stack.append(self._frame(unit))
        top = stack[0]
        top_path = unit
        mask, frame, close, cap = DIGEST_MASK, self._frame, self._close, 8 * ROW_CAP
        n = 0
        for parent, values, dirs, file_bytes, files, digest, enter in segments:
            if parent != top_path:
                while len(stack) > 1 and stack[-1][0] != parent:
                    close(False, direct_only)
                top = stack[-1]
                top_path = top[0]
                if top_path != parent:
                    break  # left the unit
            n += len(values) // 8
            top[3] = (top[3] + digest) & mask
            rows = top[4]
            if rows is not None:  # kept as they come; sent only if the directory changed
                if len(rows) + len(values) <= cap:
                    rows += values
                else:
                    top[4] = None
            top[1] += file_bytes
            top[2] += files
            if own_frames or len(stack) > 1:
                for d in dirs:  # not entered (depth limit): a frame with nothing below it
                    stack.append(frame(d))
                    close(False, direct_only)
                if enter is not None:
                    top = frame(enter)
                    top_path = enter
                    stack.append(top)
        while stack:
            close(len(stack) == 1, direct_only)
        self.out["walked"] = n
        return self.out


class VerifyDiscovery:
    """The main process's side: fan the units out, commit each result."""

    def __init__(self, ctx: Any, data: Any, job_id: int, location: Any, state: dict, on_progress: Any) -> None:
        self.ctx, self.data, self.job_id, self.loc, self.state = ctx, data, job_id, location, state
        self.on_progress = on_progress
        self.rules = WalkRules.from_dict(state["rules"])

    def run(self) -> None:
        st, ctx, data = self.state, self.ctx, self.data
        root, depth, recurse = self.loc.path, st["max_depth"], st["recurse"]
        if st.get("units") is None:
            st["units"] = plan_units(root, self.rules, depth, recurse, os.cpu_count() or 2)
            st["units_done"], st["bases"] = 0, {}
        reader = data.reader()
        rules = self.rules.to_dict()
        tasks = [(reader, self.loc.id, root, u, direct, rules, depth, recurse)
                 for u, direct in st["units"][st["units_done"]:]]
        for res in ctx.map(verify_unit, tasks, chunksize=1):
            unit, direct = st["units"][st["units_done"]]
            with data.atomic():
                self._commit(res, unit, direct)
                st["units_done"] += 1
                st["found"] += res["walked"]
                data.save_run(self.job_id, "discovery", None, st)
            for path, message, vanished in res["errors"]:
                if vanished:
                    ctx.warn("vanished during the walk", path=path)
                else:
                    ctx.error(message, path=path)
            ctx.check_interrupt()
            self.on_progress(unit, st["units_done"] / max(1, len(st["units"])))
            if TEST_DELAY:
                time.sleep(TEST_DELAY)
        if st.get("combined") is None:
            with data.atomic():
                self._combine()
                st["combined"] = True
                data.save_run(self.job_id, "discovery", None, st)
        self._rescan_big()

    def _commit(self, res: dict, unit: str, direct: bool) -> None:
        data, job_id = self.data, self.job_id
        rows, dirs = [], []
        if any(not vanished for _p, _m, vanished in res["errors"]):
            self.state["walk_errors"] = True  # the location's totals then come from SQL
        for path_b, digest, children_values in res["dirs"]:
            if children_values is None:
                dirs.append((path_b, 2, None))  # too many to send: listed again later
            else:
                rows += children_values
                dirs.append((path_b, 1, digest))
        data.stage_values(job_id, rows)
        data.stage_dirs(job_id, dirs)
        data.stage_dir_totals(job_id, [(p, s, f) for s, f, p in res["totals"]])
        # for _combine: the partial totals of a direct-only unit, the totals of a subtree
        self.state["bases"][unit] = [*res["base"], direct, *(res["stored"] or (None, None, None))[1:]] \
            if res["base"] else [0, 0, direct, None, None]

    def _combine(self) -> None:
        """Subtree totals of the directories cut into a direct-only unit and subtrees."""
        bases = self.state["bases"]
        totals: dict[str, list[int]] = {u: [b[0], b[1]] for u, b in bases.items()}
        # deepest first: a unit's (complete) totals go to the direct-only unit of its parent
        for unit in sorted(bases, key=lambda u: -depth_of(self.loc.path, u)):
            parent = os.path.dirname(unit)
            if unit != self.loc.path and parent in bases and bases[parent][2]:
                totals[parent][0] += totals[unit][0]
                totals[parent][1] += totals[unit][1]
        totals = {u: t for u, t in totals.items() if bases[u][2]}
        self.state["root_total"] = totals.get(self.loc.path)
        changed = [(s, f, os.fsencode(u)) for u, (s, f) in totals.items()
                   if u != self.loc.path and (bases[u][3], bases[u][4]) != (s, f)]
        self.data.stage_dir_totals(self.job_id, [(p, s, f) for s, f, p in changed])

    def _rescan_big(self) -> None:
        """List again the changed directories that had too many children to send."""
        data, job_id, st = self.data, self.job_id, self.state
        root = self.loc.path
        big = data.changed_dirs(job_id, changed=2)
        for path in big:
            digest, batch = 0, []
            for e in children(root, self.rules, path, st["max_depth"], st["recurse"]):
                name_b = os.fsencode(e.name)
                digest = (digest + child_key(name_b, e.size, e.inode, e.device, e.mode, e.mtime_ns)) & DIGEST_MASK
                batch.append((os.fsencode(e.path), name_b, e.kind, e.size, e.inode, e.device, e.mode, e.mtime_ns))
                if len(batch) >= BATCH:
                    with data.atomic():
                        data.stage_entries(job_id, batch)
                    batch = []
                    self.ctx.check_interrupt()
            with data.atomic():
                data.stage_entries(job_id, batch)
                data.dir_listed(job_id, path, digest)
