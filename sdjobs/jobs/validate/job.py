"""validate: report what is wrong with files, each issue with a severity and a fix.

Phases: list (the index's entries for an indexed path, else a walk with the
indexer's rules), check (per-file checks over the worker pool in batches,
checkpointed by batch), report (issues sorted by severity into the results).
When the index alone says what to check, the first rows go to the workers
before the rest is listed, and the check phase overlaps the listing.

Integrity alone is the fast path (``check_hashes``): files travel to the
workers as columns, the biggest go first, batches shrink towards the end, and
a file whose content still matches costs one open and its reads.

Modes: basic (missing files, size/mtime drift against the index, empty
files), integrity (full xxh3-128 against the stored one; a change without a
size or mtime change is critical), corruption (images that do not decode,
truncated JPEG/PNG, magic bytes that contradict the extension, zero-length
files with a content extension), complete (all of these, plus permissions
and problematic names).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import deque
from typing import Any, ClassVar, Literal

from ...core.errors import BadInput, NotFound
from ...core.job import Job
from ...core.throttle import throttle
from ...fs.rules import WalkRules
from ...fs.walker import walk
from ...store.results import dumps
from .checks import SEVERITIES, check_batch, check_hashes, issue

BATCH_FILES = 5000       # one ctx.map chunk each: few and big (see dupes.groups.BATCH_FILES)
BATCH_BYTES = 96 << 20
# What opening, reading and closing one file costs, in bytes hashed in the same
# time (~8 us against ~5 GB/s here): batches are balanced by size + this.
FILE_COST = 40 << 10
# Integrity: files this big are hashed first, so that no worker is still
# reading one at the end while the other has nothing left to do.
BIG_FILE = 8 << 20
MIN_BATCH = 16 << 20  # batches shrink towards the end, not below this (each costs a hand-over)
# Without a walk, the first rows listed go to the workers at once and the
# rest is listed while they check those (listing 20,000 files took 50-60 ms;
# hashing 10,000 of them, 80 ms per worker). Rows are read this many at a time.
HEAD_FILES = 10_000
CHECKPOINT_EVERY = 5.0   # at least; more when writing one costs more than 4% of that
_MANY = {"error": "errors", "warning": "warnings"}  # "2 critical", "3 info"
Mode = Literal["basic", "integrity", "corruption", "complete"]


@dataclasses.dataclass
class ValidateConfig:
    paths: list[str] = dataclasses.field(default_factory=list)
    mode: Mode = "basic"
    permissions: bool = False
    rules: dict = dataclasses.field(default_factory=dict)
    # ``library`` was a field: the job has ``ctx.library`` now (old configurations still load)
    RETIRED: ClassVar[tuple[str, ...]] = ("library",)


@dataclasses.dataclass
class ValidateState:
    """``items``: (path, kind, stored, size) to check, in order; ``done``: how many are checked;
    ``notes`` and ``issues``: [severity, kind, path, message, action] found so far; ``hashed``:
    bytes hashed; ``listed``: ``items`` is the whole list (a checkpoint of a version before
    this field was written only once it was)."""

    items: list[Any] = dataclasses.field(default_factory=list)
    notes: list[Any] = dataclasses.field(default_factory=list)
    done: int = 0
    issues: list[Any] = dataclasses.field(default_factory=list)
    hashed: int = 0
    listed: bool = True


class Validate(Job[ValidateConfig]):
    name = "validate"
    version = 1
    description = "Check files: drift and missing files, integrity against stored hashes, corruption, names"

    @classmethod
    def prepare(cls, c: ValidateConfig) -> ValidateConfig:
        c.paths = [os.path.abspath(p) for p in c.paths]
        return c

    @classmethod
    def validate(cls, c: ValidateConfig) -> None:
        if not c.paths:
            raise BadInput("validate needs at least one path")
        for p in c.paths:
            if not os.path.lexists(p):
                raise NotFound(f"cannot validate {p!r}: no such file or directory")
        WalkRules.from_dict(c.rules)

    @classmethod
    def check_library(cls, c: ValidateConfig, library) -> None:
        """What ``validate`` cannot tell without the library (``library``: a ``LibraryInfo``):
        integrity needs stored full hashes. The job checks it when it starts; the CLI
        before it submits (a one-line error, exit 2)."""
        if c.mode == "integrity":
            for p in c.paths:
                why = _no_hashes(library.data, p)
                if why:
                    raise BadInput(why)

    @classmethod
    def summarize(cls, out: dict) -> str:
        counts = out["counts"]
        from ...core.humanize import plural

        found = ", ".join(plural(counts[s], s, _MANY.get(s, s)) for s in SEVERITIES if counts.get(s)) or "no issues"
        text = f"{plural(out['checked'], 'file')} checked ({out['mode']}): {found}"
        if out.get("hashed"):
            from ...core.humanize import human_bytes as _size

            text += f"; {_size(out['hashed'])} hashed"
        return text

    # -- run ------------------------------------------------------------------
    def run(self, ctx):
        c = self.config
        self.ctx = ctx
        flags = _flags(c)
        state = ctx.load_state(ValidateState)
        pieces = None
        if state is None:
            self.check_library(c, ctx.library)
            ctx.phase("list", message="listing " + ", ".join(c.paths))
            state = ValidateState(listed=False)
            pieces = self._pieces(flags, state.notes)
        elif state.done:
            ctx.log(f"resumed from a checkpoint: {state.done:,} of {len(state.items):,} files already checked")
        items, found = state.items, state.issues
        spans: deque = deque()  # (a, b) of each batch out, in order

        def work():
            for a, b in self._spans(state, pieces, flags):
                spans.append((a, b))
                if integrity_only:
                    yield _columns(flags, items[a:b])
                else:
                    yield flags, [(p, k, st) for p, k, st, _ in items[a:b]]

        integrity_only = _integrity_only(flags)
        fn = check_hashes if integrity_only else check_batch
        last_cp = started = time.monotonic()
        cp_cost = 0.0
        hashed_before = state.hashed
        for issues, hashed in ctx.map(fn, work(), chunksize=1):
            a, b = spans.popleft()
            found += [list(i) for i in issues]
            state.done, state.hashed = b, state.hashed + hashed
            ctx.add_items(b - a)
            ctx.add_bytes(hashed)
            ctx.progress(done=b, bytes_done=state.hashed if flags.get("integrity") else None,
                         path=items[b - 1][0])
            throttle(ctx, started, state.hashed - hashed_before)
            ctx.check_interrupt()
            now = time.monotonic()
            if state.listed and now - last_cp >= max(CHECKPOINT_EVERY, 25 * cp_cost):
                ctx.checkpoint(state, force=True)
                last_cp = time.monotonic()
                cp_cost = last_cp - now
        ctx.phase("report")
        return self._report(state)

    def _spans(self, state: ValidateState, pieces, flags: dict):
        """[a, b) of each batch to check, from ``state.done``. On a fresh start
        the listing is still going (``pieces``): the batches of the first rows
        go out before the rest is listed, so that the workers check them while
        this process lists. The checkpoint waits for the whole list."""
        items, start = state.items, state.done
        if pieces is not None:
            head = next(pieces, [])
            items += head
            self.ctx.phase("check", total=None, unit="files")
            yield from _bounds([it[3] for it in head], 0, flags.get("integrity"))
            rest = [it for piece in pieces for it in piece]
            items += _biggest_first(rest) if flags.get("integrity") else rest
            state.listed = True
            start = len(head)
            self.ctx.progress(total=len(items),
                              bytes_total=sum(it[3] for it in items) if flags.get("integrity") else None)
        else:
            self.ctx.phase("check", total=len(items), unit="files",
                           bytes_total=sum(it[3] for it in items) if flags.get("integrity") else None)
            self.ctx.progress(done=start, bytes_done=state.hashed if flags.get("integrity") else None)
        yield from _bounds([it[3] for it in items], start, flags.get("integrity"))

    def _pieces(self, flags: dict, notes: list):
        """Lists of (path, kind, stored, size) to check, in order, and notes
        about the paths (added to ``notes``). When the index is all that a
        check needs (no walk), the first list is only the first rows of the
        first root (see ``_head``); everything else comes after."""
        c = self.config
        needs_walk = flags.get("corruption") or flags.get("names") or flags.get("permissions")
        for root in c.paths:
            found = _index_rows(self.ctx.library.data, root, lazy=True)
            if found is None:
                if flags.get("drift") or flags.get("integrity"):
                    notes.append(list(issue(
                        "info", "not-indexed", root, "not indexed: missing files, drift"
                        + (" and integrity are" if flags.get("integrity") else " are") + " not checked",
                        f"sdjobs index {root!r}" + (" --full-hash" if flags.get("integrity") else ""))))
                found = (True, iter(()))
            has_hashes, rows = found
            if flags.get("integrity") and not has_hashes:
                notes.append(list(issue("info", "no-hashes", root, "indexed without full hashes: integrity"
                                        " not checked", f"sdjobs index {root!r} --full-hash")))
            first = _head(rows)
            if first and not needs_walk:
                yield [(p, "file", st, st[0]) for p, st in first]
                yield [(p, "file", st, st[0]) for p, st in rows]
            else:
                stored = dict(first)
                stored.update(rows)
                seen = set()
                piece = []
                for path, kind, size in self._walk(root):
                    seen.add(path)
                    piece.append((path, kind, stored.get(path), size))
                piece += [(p, "file", st, st[0]) for p, st in stored.items() if p not in seen]  # missing ones
                yield piece
            self.ctx.check_interrupt()

    def _walk(self, root: str):
        if not os.path.isdir(root) or os.path.islink(root):
            st = os.lstat(root)
            yield root, "file", st.st_size
            return
        rules = WalkRules.from_dict(self.config.rules)
        for e in walk(root, rules, on_error=lambda path, exc: self.ctx.error(exc, path=path)):
            yield e.path, e.kind, e.size if e.kind == "file" else 0

    def _report(self, state: ValidateState) -> dict:
        c = self.config
        order = {s: i for i, s in enumerate(SEVERITIES)}
        issues = sorted(state.notes + state.issues, key=lambda i: (order[i[0]], i[1], os.fsencode(i[2])))
        counts = {s: 0 for s in SEVERITIES}
        for i in issues:
            counts[i[0]] += 1
        keys = ("severity", "kind", "path", "message", "action")
        self.ctx.result_columns(*keys, name="issues")
        for i in issues:  # error and critical ones make the job completed-with-errors
            self.ctx.emit_json(dumps(dict(zip(keys, i, strict=False))), severity=i[0])
        return {"mode": c.mode, "checked": len(state.items), "hashed": state.hashed, "counts": counts}


def _flags(c: ValidateConfig) -> dict:
    every = c.mode == "complete"
    return {"drift": c.mode in ("basic", "complete"), "empty": c.mode in ("basic", "complete"),
            "integrity": c.mode in ("integrity", "complete"), "corruption": c.mode in ("corruption", "complete"),
            "names": every, "permissions": every or c.permissions}


def _no_hashes(data, path: str) -> str | None:
    """Why integrity cannot be checked under ``path``, or None (``data``: the library's data plane)."""
    how = f"run `sdjobs index {path} --full-hash` first, then validate again"
    loc = data.find_location(path)
    if loc is None:
        return f"{path} is not indexed, so there are no stored hashes to compare with: {how}"
    if not data.full_hashes_stored(loc.id):
        return f"{loc.path} was indexed without full hashes: {how}"
    return None


def _index_rows(data, root: str, *, lazy: bool = False):
    """{path: (size, mtime_ns, inode, full_hash)} of the indexed files under
    ``root`` (key None: whether full hashes are stored), or None if not indexed.
    With ``lazy``: (whether full hashes are stored, an iterator of (path,
    stored) in path order), read by the index's own reader (``IndexReader``:
    the job's connection stays free for its checkpoints). Paths are in the
    spelling of ``root``, like ``entries_under``."""
    given = os.path.abspath(root)
    loc = data.find_location(given)
    if loc is None:
        return None
    has_hashes = data.full_hashes_stored(loc.id)
    real = os.path.realpath(given)
    rows = data.reader().file_rows(loc.id, given, real, HEAD_FILES)
    if lazy:
        return has_hashes, rows
    found: dict = {None: has_hashes}
    found.update(rows)
    return found


def _head(rows) -> list[tuple]:
    """The first rows of ``rows`` (left where they stop): HEAD_FILES of them,
    or fewer worth four full batches per worker."""
    out, cost, most = [], 0, 4 * BATCH_BYTES * (os.cpu_count() or 1)
    for row in rows:
        out.append(row)
        cost += row[1][0] + FILE_COST
        if len(out) >= HEAD_FILES or cost >= most:
            break
    return out


def _biggest_first(items: list[tuple]) -> list[tuple]:
    """Files of BIG_FILE or more first, biggest first; the rest in their order."""
    big = sorted((it for it in items if it[3] >= BIG_FILE), key=lambda it: -it[3])
    return big + [it for it in items if it[3] < BIG_FILE] if big else items


def _integrity_only(flags: dict) -> bool:
    return bool(flags.get("integrity")) and not any(v for k, v in flags.items() if k != "integrity")


def _columns(flags: dict, items: list[tuple]) -> tuple:
    """A batch for ``check_hashes``: indexed files as columns."""
    stored = [it[2] or (it[3], 0, None, None) for it in items]
    return (flags, "\0".join([it[0] for it in items]), [st[0] for st in stored], [st[1] for st in stored],
            [st[3] for st in stored])


def _bounds(sizes: list[int], start: int, by_bytes: bool) -> list[tuple[int, int]]:
    """Consecutive [a, b) batches from ``start``: at most BATCH_FILES files and
    at least four per worker; with bytes counted, also each about half a
    worker's share of what is left (counting FILE_COST per file, at most
    BATCH_BYTES, at least MIN_BATCH), so batches shrink towards the end and
    the workers finish together."""
    n = len(sizes) - start
    workers = os.cpu_count() or 1
    per = max(8, min(BATCH_FILES, n // (4 * workers) or 8))
    if not by_bytes:
        return [(a, min(a + per, len(sizes))) for a in range(start, len(sizes), per)]
    cost = [s + FILE_COST for s in sizes[start:]]
    left = sum(cost)
    out, a, acc = [], start, 0
    goal = min(BATCH_BYTES, max(MIN_BATCH, left // (2 * workers)))
    for b in range(start, len(sizes)):
        acc += cost[b - start]
        if b + 1 - a >= per or acc >= goal:
            out.append((a, b + 1))
            left -= acc
            a, acc = b + 1, 0
            goal = min(BATCH_BYTES, max(MIN_BATCH, left // (2 * workers)))
    if a < len(sizes):
        out.append((a, len(sizes)))
    return out
