"""The discovery phase of the indexer: walk, write in batches, sum subtrees.

The shared walker yields entries in a total, deterministic order, so the
path of the last entry of a committed batch is an exact resume point: the
batch, that cursor and the running subtree sums are committed in one
transaction, and a resumed run walks on from there (``start_after``)
without rewalking or rewriting anything.

The walk comes in segments (``walk_segments``: runs of one directory's
entries as flat values, with their file sizes and digest already summed),
so the Python work here is per run of entries, not per entry; the batch is
the flat list of their values. Subtree sums use a stack of the open
directories (pre-order walk: an entry's parent is always on the stack); a
directory's total is known when the walk leaves it, and goes out with the
batch of that moment. Memory is the batch plus the depth of the tree.

A *target* below the location root (``sdjobs index SUBDIR``, ``watch``) is
walked from the location root with ``start_after=target``: the walker then
applies exactly the ``.gitignore`` files a full walk would, and the walk
stops at the first entry outside the target.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import stat
import time
from typing import Any

import msgpack

from ...core import codec
from ...core.errors import JobFailed, WorkerLost
from ...fs.rules import GitIgnore, WalkRules
from ...fs.walker import walk_segments

BATCH = int(os.environ.get("SDJOBS_INDEX_BATCH") or 5000)
FLUSH_SECONDS = 1.0
PROGRESS_SECONDS = 0.25  # as often as the job context writes progress anyway
# Seconds to sleep after each commit: lets tests stop a run in any phase of a tiny tree.
TEST_DELAY = float(os.environ.get("SDJOBS_INDEX_TEST_DELAY") or 0)
_KINDS = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}
DIGEST_MASK = (1 << 63) - 1  # digests are stored as SQLite (signed) integers
# What one direct child adds to its directory's digest (see schema/index.py) is
# ``fs.walker.child_key``; the walker sums it for each segment (``Segment.digest``).


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


class BatchWriter:
    """Writes batches in a process of its own (forked, with its own SQLite
    connection), so the walk goes on while SQLite works -- on the other core.
    (A thread does not do it: the walk's many short system calls and the
    writer's row binding fight over the GIL.) Batches are written in order,
    each in one transaction with its cursor; at most two are in flight, so
    memory stays bounded. A batch crosses a pipe as msgpack (flat lists of
    bytes and ints: a third of the cost of pickling rows); the pipe is made
    big enough for a whole batch, so sending one does not wait for the writer
    to read it. An error in the writer fails the job at the next ``put`` or
    at ``close``. ``SDJOBS_INDEX_SYNC_WRITES=1`` writes in-process."""

    IN_FLIGHT = 2
    PIPE_BYTES = 1 << 20

    def __init__(self, write: Any, data: Any) -> None:
        self._write, self._data = write, data
        self._inflight = 0
        self._proc = None
        if os.environ.get("SDJOBS_INDEX_SYNC_WRITES"):
            return
        mp = multiprocessing.get_context("fork")
        batches_in, self._batches = mp.Pipe(duplex=False)
        self._acks, acks_out = mp.Pipe(duplex=False)
        try:
            fcntl.fcntl(self._batches.fileno(), fcntl.F_SETPIPE_SZ, self.PIPE_BYTES)
        except (OSError, AttributeError):
            pass  # above the system's limit, or not Linux: the default size works, more slowly
        self._proc = mp.Process(target=self._child, args=(batches_in, acks_out, os.getpid()),
                                name="sdjobs-index-writer", daemon=True)
        self._proc.start()
        batches_in.close()
        acks_out.close()

    def _child(self, batches: Any, acks: Any, job_pid: int) -> None:
        from ...runner import lifeline

        lifeline.die_with_parent(job_pid)  # never writes on for a job process that is gone
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self._batches.close()
        self._acks.close()
        try:
            self._data.open_bulk_writer()  # a connection of its own, never the parent's
            while data := batches.recv_bytes():
                self._write(msgpack.unpackb(data, raw=False))
                acks.send(None)
        except EOFError:
            return  # the job process is gone
        except BaseException as exc:  # noqa: BLE001 - whatever stops the walk is reported to the job process
            acks.send(f"{type(exc).__name__}: {exc}")

    def _ack(self) -> None:
        try:
            error = self._acks.recv()
        except EOFError:  # killed (the OOM killer): a crash of the job, which resumes from its checkpoint
            raise WorkerLost("the index writer process died") from None
        self._inflight -= 1
        if error is not None:
            self._inflight = 0
            raise JobFailed(f"writing the index failed: {error}")

    def drain(self) -> None:
        """Wait until every batch sent is written: the writer is then idle, and a
        write of the job process (progress) gets the database lock at once
        instead of sleeping in SQLite's busy handler while batches go in."""
        while self._inflight:
            self._ack()

    def put(self, batch: tuple) -> None:
        if self._proc is None:
            self._write(batch)
            return
        while self._inflight >= self.IN_FLIGHT:
            self._ack()
        try:
            self._batches.send_bytes(msgpack.packb(batch, use_bin_type=True))
        except BrokenPipeError:  # the writer was killed (see _ack)
            raise WorkerLost("the index writer process died") from None
        self._inflight += 1

    def close(self) -> None:
        """Wait until every batch sent is written, then stop the writer."""
        if self._proc is None:
            return
        try:
            self.drain()
        finally:
            try:
                self._batches.send_bytes(b"")
            except OSError:
                pass
            self._proc.join(30)
            if self._proc.is_alive():
                self._proc.kill()
            self._batches.close()
            self._acks.close()


class Discovery:
    """Walks the targets of one run and writes what it finds.

    ``fresh``: the location had no entries, so rows go straight into
    ``entry``; otherwise they are staged in ``index_scan`` for the diff."""

    def __init__(self, ctx: Any, data: Any, job_id: int, location_id: int, root: str, rules: WalkRules,
                 max_depth: int | None, recurse: bool, state: dict, on_progress: Any) -> None:
        self.ctx, self.data, self.job_id, self.location_id = ctx, data, job_id, location_id
        self.root, self.rules, self.max_depth, self.recurse = root, rules, max_depth, recurse
        self.state = state
        self.on_progress = on_progress
        self.rows: list = []  # flat: 8 values per entry (``Segment.values``)
        self.totals: list[tuple[int, int, int, bytes]] = []
        self.stack: list[list] = []
        self.unreadable: set[str] = set(state["keep"])
        self.progress_due = 0.0

    # -- writing ----------------------------------------------------------------
    def flush(self, cursor: bytes | None) -> None:
        """Hand a batch, with the cursor (the path of its last entry) and the
        state that describe it, to the writer."""
        st = self.state
        st["found"] += len(self.rows) // 8
        st["stack"] = self.stack if self.stack else None
        batch = (self.rows, self.totals, cursor, codec.pack(st))
        self.rows, self.totals = [], []
        now = time.monotonic()
        if cursor is None or now >= self.progress_due:
            # Progress is written by this process: let the writer finish first, so that
            # write gets the database lock at once. Between reports, batches queue up.
            self.writer.drain()
            self.on_progress(None if cursor is None else os.fsdecode(cursor))
            self.progress_due = now + PROGRESS_SECONDS
        self.writer.put(batch)
        if TEST_DELAY:
            time.sleep(TEST_DELAY)

    def _write(self, batch: tuple) -> None:
        """In the writer process: one batch, its cursor and state, one transaction."""
        rows, totals, cursor, state = batch
        self.data.write_discovered(self.job_id, self.location_id, rows, totals, fresh=self.state["fresh"],
                                   cursor=cursor, state=state)

    def on_error(self, path: str, exc: BaseException) -> None:
        if isinstance(exc, FileNotFoundError):
            self.ctx.warn("vanished during the walk", path=path)
            return
        self.ctx.error(exc, path=path)
        if self.stack and self.stack[-1][0] == path and len(self.state["keep"]) < 10_000:
            self.unreadable.add(path)  # a directory we could not list: keep what we knew below it
            self.state["keep"].append(path)

    # -- walking ------------------------------------------------------------------
    def run(self, cursor: str | None) -> None:
        self.writer = BatchWriter(self._write, self.data)
        try:
            self._run(cursor)
        finally:
            self.writer.close()

    def _run(self, cursor: str | None) -> None:
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
            self.stack = [[target, 0, 0, 0]]
            return True
        try:
            lst = os.lstat(target)
        except FileNotFoundError:
            return False
        except OSError as exc:
            self.ctx.error(exc, path=target)
            self.state["keep"].append(target)
            return False
        if not is_included(self.root, target, self.rules, self.max_depth, self.recurse):
            return False
        self.rows += row_of(target, lst)
        if not stat.S_ISDIR(lst.st_mode):
            return False
        depth = len(os.path.relpath(target, self.root).split("/")) - 1
        limit = 0 if not self.recurse else self.max_depth
        self.stack = [[target, 0, 0, 0]]
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
        path, size, files, digest = self.stack.pop()
        if self.stack:
            parent = self.stack[-1]
            parent[1] += size
            parent[2] += files
        if path == self.root:
            self.state["root_total"] = [size, files, None if path in self.unreadable else digest]
        elif path not in self.unreadable:
            self.totals.append((size, files, digest, os.fsencode(path)))

    def _walk(self, target: str, cursor: str | None) -> None:
        start_after = cursor if cursor is not None else (None if target == self.root else target)
        segments = walk_segments(self.root, self.rules, max_depth=self.max_depth, recurse=self.recurse,
                                 start_after=start_after, on_error=self.on_error, chunk=min(BATCH, 2048))
        mask, fse, full = DIGEST_MASK, os.fsencode, 8 * BATCH
        stack, pop, totals = self.stack, self._pop, self.totals
        top = stack[-1]
        top_path = top[0]
        check, monotonic = self.ctx.check_interrupt, time.monotonic
        deadline = monotonic() + FLUSH_SECONDS
        for parent, values, dirs, file_bytes, files, digest, enter in segments:
            if parent != top_path:
                while len(stack) > 1 and stack[-1][0] != parent:
                    pop()
                top = stack[-1]
                top_path = top[0]
                if top_path != parent:
                    return  # left the target
            self.rows += values
            top[1] += file_bytes
            top[2] += files
            top[3] = (top[3] + digest) & mask
            for d in dirs:  # not entered (depth limit): nothing below them
                totals.append((0, 0, 0, fse(d)))
            if enter is not None:
                top = [enter, 0, 0, 0]
                top_path = enter
                stack.append(top)
            if len(self.rows) >= full or monotonic() >= deadline:
                check()
                self.flush(values[-8])
                totals = self.totals  # the full list went to the writer
                deadline = monotonic() + FLUSH_SECONDS
