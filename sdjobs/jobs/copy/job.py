"""copy: cp -a as a durable job.

Phases: plan (walk the sources, count, find conflicts before anything is
written), copy (directories first, small files fanned out over the worker
pool in batches, large files in checkpointed chunks), finish (directory modes
and times, deepest first; with --move, remove what was moved).

The plan keeps what it walked (up to KEEP_ENTRIES) so the copy phase does not
walk again, and it does not look for conflicts under destination directories
that do not exist. When no target exists at all there is nothing to plan: the
walk runs ahead of the copy in a thread and gives the totals when it ends. Nor does the copy phase, in directories it created itself:
there, small files are renamed into place with RENAME_NOREPLACE, so one that
appears meanwhile is still never replaced.

Every destination write is relative to a directory descriptor opened beneath
the target's parent (``fs.beneath``): a destination directory swapped for a
symlink fails the files under it, and nothing is written outside. What a
resume needs survives in the checkpoint: the job's temp-name token, the large
file in progress (its temp name and offset), the hard-link map, the counts so
far, and with --move the source directories' metadata seen before anything
was moved out of them.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar, Literal

from ...core.errors import BadInput, Interrupt, JobFailed, NotFound
from ...core.humanize import human_bytes, plural
from ...core.index_keeper import keep_index
from ...core.job import Job
from ...fs import copyfile as cf
from .batch import DST, SRC, BatchTask, Failure, FileResult, Sides, copy_batch
from .books import CopyBooks
from .finish import DirMeta, finish_dirs, sweep_temps
from .large import Bucket, LargeCopier
from .planner import Batcher, Do, Recount, inode_key, what_to_do
from .removals import MoveRemovals
from .state import CopyState
from .walk import Entry, WalkAhead, walk

KEEP_ENTRIES = 250_000  # the plan's walk is kept for the copy phase up to this many entries
Policy = Literal["fail", "skip", "overwrite", "rename"]


@dataclasses.dataclass
class CopyConfig:
    sources: list[str]
    dest: str
    move: bool = False
    verify: bool = False
    on_conflict: Policy = "fail"
    targets: list[str] = dataclasses.field(default_factory=list)


class Copy(CopyBooks, MoveRemovals, Job[CopyConfig]):
    name = "copy"
    version = 1
    description = "Copy or move files and trees like cp -a: atomic, verified, resumable"
    Config = CopyConfig

    @classmethod
    def prepare(cls, c: CopyConfig) -> CopyConfig:
        c.sources = [os.path.abspath(s) for s in c.sources]
        c.dest = os.path.abspath(c.dest)
        into = os.path.isdir(c.dest)
        c.targets = [os.path.join(c.dest, os.path.basename(s.rstrip("/")) or s) if into else c.dest
                     for s in c.sources]
        return c

    @classmethod
    def validate(cls, c: CopyConfig) -> None:
        if not c.sources:
            raise BadInput("copy needs at least one source")
        if len(c.sources) > 1 and not os.path.isdir(c.dest):
            raise BadInput(f"target {c.dest!r} is not a directory (several sources need one)")
        if not os.path.isdir(os.path.dirname(c.dest) or "/"):
            raise NotFound(f"cannot create {c.dest!r}: its parent directory does not exist")
        for src, target in zip(c.sources, c.targets or [c.dest] * len(c.sources), strict=True):
            try:
                st = os.lstat(src)
            except FileNotFoundError:
                raise NotFound(f"cannot copy {src!r}: no such file or directory") from None
            except OSError as exc:
                raise BadInput(f"cannot copy {src!r}: {exc.strerror}") from None
            real_src, real_dst = os.path.realpath(src), os.path.realpath(target)
            if real_src == real_dst:
                raise BadInput(f"{src!r} and {target!r} are the same file")
            if stat.S_ISDIR(st.st_mode) and real_dst.startswith(real_src.rstrip("/") + "/"):
                raise BadInput(f"cannot copy a directory, {src!r}, into itself, {target!r}")

    @classmethod
    def summarize(cls, out: dict) -> str:
        verb = "moved" if out.get("moved") else "copied"
        text = (f"{verb} {plural(out['files'], 'file')} ({human_bytes(out['bytes'])}), {plural(out['dirs'], 'dir')},"
                f" {plural(out['links'], 'symlink')}")
        if out.get("skipped"):
            text += f", skipped {out['skipped']:,}"
        if out.get("renamed"):
            text += f", renamed {out['renamed']:,}"
        if out.get("verified"):
            text += ", verified"
        return text

    # -- run ------------------------------------------------------------------
    def run(self, ctx):
        c = self.config
        self.ctx = ctx
        self.verify = c.verify or c.move  # a move across filesystems verifies before removing
        state = ctx.load_state(CopyState) or CopyState()
        self.resumed = state.planned
        state.token = state.token or cf.new_token()  # temp names: .sdjobs-<token><random>.part
        self.token = state.token
        self.out = state.out  # counts of every attempt, not just this one
        self.out.update(verified=self.verify, moved=c.move)
        self.links: dict[str, list] = state.links  # "dev:ino" of a source -> [top, its copy]
        self.dirmeta: dict[str, list] = state.dirmeta  # --move: a directory's source stat
        self.renamed_tops: set[int] = set(state.renamed_tops)
        self.counting = True  # False for an entry whose walk counts an earlier run took already
        self.uncounted: dict[str, int] = state.uncounted  # files counted ahead, then not copied (books.py)
        self.pending = 0  # bytes this run counted ahead whose files are not copied yet (books.py)
        self.entries: Iterable[Entry] | None = None
        self.ahead: WalkAhead | None = None
        self.made: set[str] = set()  # destination directories this run created (empty but for us)
        self.unmade: set[str] = set()  # those it could not create or open: one error, nothing under them tried
        self.full: tuple[str, OSError] | None = None  # the destination filled up
        self.large: LargeCopier | None = None  # large files, in a thread alongside the pool
        self.bucket = Bucket()  # --bwlimit, for the whole job
        self.roots = [os.path.dirname(t) or "/" for t in c.targets]  # trusted: what the user named
        self.src_roots = [os.path.dirname(s) or "/" for s in c.sources]
        self.sides = Sides(self.src_roots, self.roots)  # this thread's directory descriptors
        if c.move:
            for top, (src, target) in enumerate(zip(c.sources, c.targets, strict=True)):
                if top not in self.renamed_tops and self._try_rename(src, target):
                    self.renamed_tops.add(top)
            state.renamed_tops = sorted(self.renamed_tops)
        try:
            return self._run(state)
        finally:
            self.sides.close()
            keep_index(ctx, c.sources, c.targets, move=c.move, exc=sys.exc_info()[1])  # the library stays true

    def _run(self, state: CopyState) -> dict:
        c, ctx = self.config, self.ctx
        if state.removing:  # an interrupted run's moved sources, checkpointed but not removed: before any walk
            self._remove_queued(state)
        walk_ahead = not self.resumed and not any(os.path.lexists(t) for t in c.targets)
        if walk_ahead:
            files = size = None  # nothing in the way: copy while walking, totals when the walk ends
        else:
            ctx.phase("plan", message="scanning sources")
            files, size, conflicts = self._plan()
            if conflicts and c.on_conflict == "fail" and not self.resumed:
                shown = ", ".join(repr(p) for p in conflicts[:5])
                more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
                raise JobFailed(f"{len(conflicts)} destination(s) exist: {shown}{more};"
                                " nothing was written (use --on-conflict skip|overwrite|rename)")
        state.planned = True
        if state.fresh is None:
            state.fresh = walk_ahead  # its first run found no destination in the way
        ctx.checkpoint(state, force=True)

        ctx.phase("copy", total=files, unit="files", bytes_total=size)
        self.state = state
        self.dirs: list[tuple[int, str, DirMeta]] = []
        self.batch_opts = BatchTask(self.token, self.verify, c.move, c.on_conflict == "overwrite", self.roots,
                                    self.src_roots, [])  # each batch: these with its files
        self.leftover: deque[BatchTask] = deque()  # the ends of batches that ran out of time
        self.stop: Interrupt | None = None  # a pause, cancel or shutdown, once asked
        batches = self._until_stopped(self._work(state, walk_ahead))
        try:
            while True:
                for result in ctx.map(copy_batch, batches, chunksize=1):
                    self._record_batch(result)
                    self._check_interrupt()
                if self.stop is not None:
                    raise self.stop  # (every batch handed out is back and counted)
                if not self.leftover or self.full is not None:
                    break
                batches = self._until_stopped(self._leftovers())
            self._wait_large()
            if state.removing:
                self._remove_moved()
        except BaseException:
            if self.large is not None:  # stop it at a chunk and checkpoint where it stopped
                self.large.halt()
                state.current = self.large.current
                ctx.checkpoint(state)
            raise
        self._walked_ahead()
        if self.full is not None:
            dst, exc = self.full
            raise JobFailed(f"the destination is full (writing {dst}): {exc.strerror};"
                            f" free space, then `sdjobs jobs retry {self.ctx.job_id}` copies the rest")

        ctx.phase("finish", message="setting directory times and modes")
        if self.resumed:  # (first: removing a temp changes its directory's mtime)
            sweep_temps(c.targets, self.token)
        finish_dirs(self.ctx, self.dirs, self._dest, c.sources if c.move else [], self.renamed_tops,
                    lambda top, path: self.sides.at(SRC, top, path))
        return self.out

    def _check_interrupt(self) -> None:
        if self.stop is None:
            try:
                self.ctx.check_interrupt()
            except Interrupt as exc:
                self.stop = exc

    def _until_stopped(self, batches: Iterator[BatchTask]) -> Iterator[BatchTask]:
        """The batches for the pool until a pause, cancel or shutdown is asked: then no more
        go out, and those out already come back and are counted before the job stops. (Their
        files are copied: counted now, or a resume would find them there and never count them.)"""
        try:
            for batch in batches:
                if self.stop is not None:
                    return
                self._moving_soon()
                yield batch
        except Interrupt as exc:  # asked while the walk went on (or a file here was copied)
            self.stop = exc

    # -- plan ---------------------------------------------------------------------
    def _plan(self) -> tuple[int, int, list[str]]:
        files = size = 0
        conflicts: list[str] = []
        kept: list[Entry] | None = []
        absent: set[str] = set()  # destination directories that do not exist: nothing in them can
        for e in self._walk():
            if kept is not None:
                kept.append(e)
                if len(kept) > KEEP_ENTRIES:
                    kept = None  # a huge tree: walk again rather than hold it all
            mode = e.st.st_mode
            is_dir = stat.S_ISDIR(mode)
            if not is_dir:
                files += 1
                size += e.st.st_size if stat.S_ISREG(mode) else 0
            if files % 1000 == 0:
                self.ctx.check_interrupt()
            if e.parent in absent:
                if is_dir:
                    absent.add(e.dst)
                continue
            try:
                dst_st = os.lstat(e.dst)
            except FileNotFoundError:
                if is_dir:
                    absent.add(e.dst)
                continue
            except OSError as exc:
                self.ctx.error(exc, path=e.dst)
                continue
            if is_dir and stat.S_ISDIR(dst_st.st_mode):
                continue  # directories merge, as with cp -a
            if not cf.quick_match(e.st, dst_st) or not self.resumed:
                conflicts.append(e.dst)
        self.entries = kept
        return files, size, conflicts

    def _pairs(self) -> list[tuple[int, str, str]]:
        c = self.config
        return [(top, src, target) for top, (src, target) in enumerate(zip(c.sources, c.targets, strict=True))
                if top not in self.renamed_tops]

    def _walk(self) -> Iterator[Entry]:
        """Pre-order, names sorted; symlinks are entries, never followed."""
        return walk(self._pairs(), lambda path, problem: self.ctx.error(problem, path=path))

    def _walked_ahead(self) -> None:
        """Report what the walk running ahead found: errors, and the totals once it is done."""
        ahead = self.ahead
        if ahead is None:
            return
        while ahead.errors:
            path, problem = ahead.errors.popleft()
            self.ctx.error(problem, path=path)
        if ahead.done:
            self.ctx.progress(total=ahead.files, bytes_total=ahead.size)
            self.ahead = None

    # -- copy -----------------------------------------------------------------------
    def _dest(self, top: int, path: str) -> tuple[int, str]:
        """(descriptor of its directory, name) for a destination path: resolved beneath the
        target's parent, never through a symlink (OSError if one is in the way)."""
        return self.sides.at(DST, top, path)

    def _src(self, e: Entry) -> tuple[int, str]:
        """The same for a source: beneath the parent of the source the user named."""
        return self.sides.at(SRC, e.top, e.src)

    def _work(self, state: dict, walk_ahead: bool = False) -> Iterator[BatchTask]:
        """The copy phase's walk: for each entry, where it goes (``_where``) and what to do with
        it (``what_to_do``), carried out here (``_execute``: directories, links, special files,
        files for this thread or the large-file thread), or, for small files, gathered into the
        batches this yields for the pool."""
        # The walk-ahead thread starts here, and ctx.map forks its pool after it has taken two batches: the
        # workers are forked while this thread (and perhaps the large-file thread) runs. A worker runs only
        # copy_batch on its own task, descriptors and buffer: nothing that either thread holds (runner/fanout.py).
        if walk_ahead:
            self.entries = self.ahead = WalkAhead(self._pairs())
        self.interrupted_at = state.get("current")  # the large file an earlier run was copying
        recount = Recount(state, self.config.sources, self.resumed)
        batches = Batcher(self.batch_opts)
        throttled = False
        for n, e in enumerate(self._walk() if self.entries is None else self.entries):
            if self.full is not None:
                return
            if self.leftover:
                yield from self._leftovers()
            if batches.ready and batches.is_due():
                yield from batches.due()
            if self.ahead is not None and (self.ahead.done or n % 64 == 0):
                self._walked_ahead()  # the totals as soon as the walk has them
            if n % 64 == 0:
                throttled = bool(self._look_up())
            counting = recount.counting(e)
            if not counting and self.uncounted:  # an earlier run's file that it uncounted: counted again
                counting = self.uncounted.pop(self._uncounted_key(e.top, e.src), None) is not None
            self.counting = counting
            self._copy_entry(e, batches, throttled)
        if self.full is None:
            yield from batches.rest()

    def _copy_entry(self, e: Entry, batches: Batcher, throttled: bool) -> None:
        if e.parent in self.unmade:  # not made: one error for it, nothing under it tried
            if stat.S_ISDIR(e.st.st_mode):
                self.unmade.add(e.dst)
            return
        try:
            dst = self._where(e)
            if dst is None:
                return
            st = e.st
            linked = bool(self.links) and stat.S_ISREG(st.st_mode) and inode_key(st) in self.links
            do = what_to_do(st, linked=linked, throttled=throttled)
            if do is Do.SMALL:
                batches.add(e.src, dst, e.top, st.st_size, self._count_ahead(st.st_size))
            else:
                self._execute[do](self, e, dst)
        except OSError as exc:
            self._not_copied(e, exc)

    def _look_up(self) -> float | None:
        """Once in 64 entries: the --bwlimit setting (it may change while the job runs), and a pause or cancel."""
        bwlimit = self.bucket.rate = self.ctx.settings().get("bwlimit")  # (read once a second)
        self.ctx.check_interrupt()
        return bwlimit

    def _where(self, e: Entry) -> str | None:
        """The destination of ``e``, or None when there is nothing to copy (the conflict policy)."""
        if e.parent in self.made and not stat.S_ISDIR(e.st.st_mode):
            return e.dst  # in a directory this run created: nothing there to conflict with
        return self._destination(e)

    def _not_copied(self, e: Entry, exc: OSError) -> None:
        if self.counting and stat.S_ISREG(e.st.st_mode):  # counted by no run: by the one that copies it
            self.uncounted[self._uncounted_key(e.top, e.src)] = 1
        if stat.S_ISDIR(e.st.st_mode) and exc.errno not in cf.NO_SPACE:
            self.unmade.add(e.dst)
            self.ctx.error(f"directory not copied, nor anything in it: {exc.strerror}", path=e.dst)
        else:
            self._failed(e.src, e.dst, exc)

    # -- the executor: one method per Do, but SMALL (batched for the pool) ---------------
    def _make_dir(self, e: Entry, dst: str) -> None:
        dfd, name = self._dest(e.top, dst)
        if cf.make_dir(dfd, name):
            self.made.add(dst)
        if self.config.move:  # seen before anything is moved out of it, kept for a resume
            meta = self.dirmeta.setdefault(dst, DirMeta.of(e.st))
        else:
            meta = DirMeta.of(e.st)
        self.dirs.append((e.top, dst, DirMeta(*meta)))
        self.out["dirs"] += self.counting

    def _hardlink(self, e: Entry, dst: str) -> None:
        self._link(self.links[inode_key(e.st)], dst, e)

    def _to_large(self, e: Entry, dst: str) -> None:
        offset, tmp = self._resume_point(dst, e)
        if self.large is None:
            c = self.config
            self.large = LargeCopier(self.token, verify=self.verify, move=c.move,
                                     replace=c.on_conflict == "overwrite", roots=self.roots,
                                     src_roots=self.src_roots, bucket=self.bucket)
        mine = self._count_ahead(e.st.st_size)
        self._moving_soon()
        self.large.add(e.src, dst, e.top, offset, tmp, size=e.st.st_size, mine=mine)

    def _here(self, e: Entry, dst: str) -> None:
        offset, tmp = self._resume_point(dst, e)
        mine = self._count_ahead(e.st.st_size)  # (its source is removed once a checkpoint holds this)
        result = self._copy_here(e, dst, offset, tmp)._replace(mine=mine)
        if result.failure is None:
            if e.st.st_nlink > 1:
                self.links[inode_key(e.st)] = [e.top, dst]
            self._unlink_moved(e, dst)  # (after the link map has it: the queue may be written at once)
        self._record(result)
        self.ctx.check_interrupt()  # (a file here may take a while under --bwlimit)

    def _symlink(self, e: Entry, dst: str) -> None:
        sfd, sname = self._src(e)
        dfd, name = self._dest(e.top, dst)
        cf.copy_symlink(sname, dfd, name, e.st, self.token, replace=self.config.on_conflict == "overwrite",
                        src_dfd=sfd)
        self._done(e, 0, links=1)
        self._unlink_moved(e, dst)

    def _special(self, e: Entry, dst: str) -> None:
        dfd, name = self._dest(e.top, dst)
        cf.copy_special(dfd, name, e.st, self.token, replace=self.config.on_conflict == "overwrite")
        self._done(e, 0, files=1)
        self._unlink_moved(e, dst)

    def _unsupported(self, e: Entry, dst: str) -> None:
        self.ctx.warn(cf.special_problem(e.st), path=e.src)

    _execute: ClassVar[dict[Do, Callable[[Copy, Entry, str], None]]] = {
        Do.DIR: _make_dir, Do.HARDLINK: _hardlink, Do.LARGE: _to_large, Do.HERE: _here,
        Do.SYMLINK: _symlink, Do.SPECIAL: _special, Do.UNSUPPORTED: _unsupported,
    }

    def _leftovers(self) -> Iterator[BatchTask]:
        while self.leftover and self.full is None:
            yield self.leftover.popleft()

    def _resume_point(self, dst: str, e: Entry) -> tuple[int, str | None]:
        """Offset and temp name of the large file an interrupted run was copying, if this is it."""
        current = self.interrupted_at
        if not current or current.get("dst") != dst or not current.get("tmp"):
            return 0, None
        offset = current.get("offset") or 0
        if offset:
            self.ctx.log(f"resuming {e.src} at byte {offset:,} after checking the part already written")
        return offset, current["tmp"]

    def _destination(self, e: Entry) -> str | None:
        """Where ``e`` goes given the conflict policy, or None to skip it."""
        dst = e.dst
        if stat.S_ISDIR(e.st.st_mode):
            return dst
        dfd, name = self._dest(e.top, dst)
        if cf.lstat_at(dfd, name) is None:
            return dst
        policy = self.config.on_conflict
        if cf.same_quick(e.st, dfd, name) and self._proven_same(e, dfd, name):
            if self.resumed and self.state.get("fresh"):
                # Into a destination that did not exist: this job put it there, after the last
                # checkpoint of a run that crashed (what a pause stopped is counted already).
                kind = e.st.st_mode
                first_name = stat.S_ISREG(kind) and inode_key(e.st) not in self.links  # (a further one: no bytes)
                self._done(e, e.st.st_size if first_name else 0, links=int(stat.S_ISLNK(kind)),
                           files=int(not stat.S_ISLNK(kind)))
            else:
                self._done(e, 0, skipped=True)  # identical already (or this job's, counted before)
            if stat.S_ISREG(e.st.st_mode) and e.st.st_nlink > 1:
                self.links.setdefault(inode_key(e.st), [e.top, dst])
            if self.config.move:  # copied before an interruption, not yet removed
                if stat.S_ISREG(e.st.st_mode):
                    cf.sync_existing(dfd, name)
                self._unlink_moved(e, dst)
            return None
        if policy == "skip":
            self._done(e, 0, skipped=True)
            return None
        if policy == "rename":
            return self._free_name(e)
        if policy == "overwrite":
            st = cf.lstat_at(dfd, name)
            if st is not None and stat.S_ISDIR(st.st_mode):
                self.ctx.error("a directory is in the way; not overwritten", path=dst)
                return None
            return dst
        self.ctx.error("appeared in the destination during the copy; left as it is", path=dst)
        return None

    def _proven_same(self, e: Entry, dfd: int, name: str) -> bool:
        """A quick-check match is proof enough, except with --verify, --move, overwrite or rename
        (where a file that only looks the same would keep the source's content out of the copy):
        compare content."""
        c = self.config
        if not stat.S_ISREG(e.st.st_mode) or not (c.verify or c.move or c.on_conflict in ("overwrite", "rename")):
            return True
        try:
            sfd, sname = self._src(e)
            return cf.same_content(sname, dfd, name, src_dfd=sfd)
        except FileNotFoundError:
            return False  # the source vanished: the copy below reports it

    def _free_name(self, e: Entry) -> str | None:
        base, ext = os.path.splitext(e.dst) if not stat.S_ISDIR(e.st.st_mode) else (e.dst, "")
        for n in range(1, 10_000):
            cand = f"{base} ({n}){ext}"
            dfd, name = self._dest(e.top, cand)
            if cf.lstat_at(dfd, name) is None:
                self.out["renamed"] += self.counting
                return cand
            if cf.same_quick(e.st, dfd, name) and self._proven_same(e, dfd, name):
                self._done(e, 0, skipped=True)
                return None
        self.ctx.error("no free name for a renamed copy", path=e.dst)
        return None

    def _copy_here(self, e: Entry, dst: str, offset: int, tmp: str | None) -> FileResult:
        """A large or hard-linked file (or any file under --bwlimit), copied in the job's thread."""
        ctx = self.ctx
        limit = self.bucket.rate
        chunk = max(64 * 1024, int(limit) // 8) if limit else cf.CHUNK  # limited: 8 steps a second
        tmp = tmp if offset and tmp else cf.temp_name(self.token)

        spent = [offset]  # (bytes before the offset were spent by the run that wrote them)

        def on_chunk(pos: int, n: int) -> None:
            self._walked_ahead()  # (a few large files: the walk ends while the first is copied)
            ctx.progress(path=e.src, bytes_done=self._bytes_done() + pos)
            self.state["current"] = {"dst": dst, "offset": pos, "tmp": tmp}
            ctx.checkpoint(self.state)
            self.bucket.rate = ctx.settings().get("bwlimit")  # (it may change while the job runs)
            self.bucket.spend(pos - spent[0])
            spent[0] = pos
            ctx.check_interrupt()

        ctx.progress(path=e.src)
        self.state["current"] = {"dst": dst, "offset": offset, "tmp": tmp}
        try:
            sfd, sname = self._src(e)
            dfd, name = self._dest(e.top, dst)
            n, _ = cf.copy_file(sname, dfd, name, tmp, verify=self.verify, resume_offset=offset, src_dfd=sfd,
                                on_chunk=on_chunk, chunk=chunk, durable=self.config.move,
                                replace=self.config.on_conflict == "overwrite")
            self.bucket.spend(n - spent[0])
        except OSError as exc:
            self.state["current"] = None
            return FileResult(e.src, dst, 0, Failure.of(exc), e.top, e.st.st_size)
        self.state["current"] = None
        return FileResult(e.src, dst, n, None, e.top, e.st.st_size)

    def _link(self, first: list, dst: str, e: Entry) -> None:
        first_top, first_dst = first
        first_dfd, first_name = self._dest(first_top, first_dst)
        dfd, name = self._dest(e.top, dst)
        cf.link_into(first_dfd, first_name, dfd, name, self.token, replace=self.config.on_conflict == "overwrite")
        self._done(e, 0, files=1)
        self._unlink_moved(e, dst)

    def _try_rename(self, src: str, target: str) -> bool:
        """--move on one filesystem: a rename of the whole source, if nothing is in the way."""
        if not os.path.lexists(src) and os.path.lexists(target):
            return True  # renamed by an earlier run of this job
        if os.path.lexists(target):
            return False
        try:
            os.rename(src, target)
        except OSError as exc:
            if exc.errno in (errno.EXDEV, errno.ENOTEMPTY, errno.EEXIST):
                return False
            raise
        self.ctx.log(f"renamed {src} to {target}")
        self.out["files"] += 1
        return True

    def on_cancel(self, ctx) -> None:
        self.clean_temporaries(getattr(self, "state", None) or ctx.load_state())

    def clean_temporaries(self, state) -> None:
        """A copy that failed, was cancelled or lost its library leaves no .part behind (the
        runner calls this once the pool has stopped: no worker writes one afterwards)."""
        token = getattr(self, "token", None) or (state or {}).get("token")
        if token:
            sweep_temps(self.config.targets, token)
