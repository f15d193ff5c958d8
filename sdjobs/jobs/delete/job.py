"""delete: to the freedesktop.org trash (default), permanently, or securely.

Phases: plan (check and count every target), delete (target by target,
checkpointed: a resumed run skips what is done and counts what is already
gone, never failing on it).

Targets come from ``paths`` or, for the duplicates a ``dupes`` job hands
over, from ``from_file``: a msgpack list of ``[path, size, mtime_ns, keep,
keep_size, keep_mtime_ns]``. Each such file is re-checked just before it is
acted on: it must still have the size and mtime it had when it was found,
and the copy that is kept must still be there, unchanged; otherwise it is
left alone with a warning.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import time
from typing import Any, ClassVar, Literal

from ...core import codec
from ...core.errors import BadInput, NotFound
from ...core.humanize import human_bytes, plural
from ...core.index_keeper import IndexKeeper
from ...core.job import Job
from ...fs import trash
from ...fs.tally import count
from .removal import Remover, refusal

SECURE_NOTE = ("secure deletion overwrites file contents in place; on SSDs and on copy-on-write or journaling"
               " filesystems (btrfs, ZFS, ext4 with data journaling) old blocks may survive: no guarantee")
Mode = Literal["trash", "permanent", "secure"]


@dataclasses.dataclass
class DeleteConfig:
    paths: list[str] = dataclasses.field(default_factory=list)
    mode: Mode = "trash"
    yes: bool = False          # permanent and secure need it (the CLI sets it after a confirmation)
    passes: int = 1            # overwrite passes for secure
    from_file: str = ""        # a list of re-checked targets written by dupes
    # ``library`` was a field (the library's file, never deleted): the job protects
    # ``ctx.library`` now, whatever the configuration says (old ones still load)
    RETIRED: ClassVar[tuple[str, ...]] = ("library",)


@dataclasses.dataclass
class DeleteState:
    """``plan``: totals (files, bytes) and directories' own (files, bytes) by target index;
    ``out``: the output so far; ``i``: targets done; ``synced``: of those, the ones the
    index has forgotten."""

    plan: dict[str, Any]
    out: dict[str, Any]
    i: int = 0
    synced: int = 0


class Delete(Job[DeleteConfig]):
    name = "delete"
    secure_note: ClassVar[str] = SECURE_NOTE  # what the CLI says before a secure deletion
    version = 1
    description = "Move files to the trash, or delete them permanently or securely (overwrite first)"

    @classmethod
    def prepare(cls, c: DeleteConfig) -> DeleteConfig:
        c.paths = [os.path.abspath(p) for p in c.paths]
        if c.from_file:
            c.from_file = os.path.abspath(c.from_file)
        return c

    @classmethod
    def validate(cls, c: DeleteConfig) -> None:
        if not c.paths and not c.from_file:
            raise BadInput("delete needs at least one path")
        if c.mode != "trash" and not c.yes:
            raise BadInput(f"{c.mode} deletion needs --yes (or a confirmation on a terminal)")
        if not 1 <= c.passes <= 35:
            raise BadInput("--passes must be between 1 and 35")
        if c.from_file and not os.path.isfile(c.from_file):
            raise NotFound(f"no list of files to delete at {c.from_file!r}")
        for p in c.paths:
            if not os.path.lexists(p):
                raise NotFound(f"cannot delete {p!r}: no such file or directory")
            why = refusal(p, None)  # the library's own files: refused when the job runs (``_one``)
            if why:
                raise BadInput(why)

    @classmethod
    def check_library(cls, c: DeleteConfig, library) -> None:
        """The library's own files are never deleted (``library``: a ``LibraryInfo``). The
        job refuses them as it goes; the CLI before it submits (a one-line error, exit 2)."""
        for p in c.paths:
            why = refusal(p, library.path, library.data_dir)
            if why:
                raise BadInput(why)

    @classmethod
    def summarize(cls, out: dict) -> str:
        verb = {"trash": "moved to the trash", "permanent": "deleted", "secure": "securely deleted"}[out["mode"]]
        n, files = out["targets"], out["files"]
        text = (f"{verb} {plural(n, 'item')} ({plural(files, 'file')},"
                f" {human_bytes(out['bytes'])})")
        if out.get("gone"):
            text += f", {out['gone']:,} already gone"
        if out.get("skipped"):
            text += f", {out['skipped']:,} left alone (changed)"
        return text

    # -- run ------------------------------------------------------------------
    def run(self, ctx):
        c = self.config
        self.ctx = ctx
        targets = self._targets()
        state = ctx.load_state(DeleteState)
        if state is None:
            ctx.phase("plan", message=f"checking {len(targets):,} targets")
            if c.mode == "secure":
                ctx.log(SECURE_NOTE)
            state = DeleteState(plan=self._plan(targets),
                                out={"mode": c.mode, "targets": 0, "files": 0, "dirs": 0, "bytes": 0, "gone": 0,
                                     "skipped": 0, "refused": 0})
            ctx.checkpoint(state, force=True)
        plan, out = state.plan, state.out
        self.state, self.out = state, out
        ctx.phase("delete", total=plan["files"], unit="files", bytes_total=plan["bytes"] or None)
        ctx.progress(done=out["files"], bytes_done=out["bytes"])
        remover = Remover(c.mode == "secure", c.passes, self._file_done, self._error, self._warn,
                          ctx.check_interrupt)
        sizes = plan["dirs"]
        self._started, self._bytes_at_start = time.monotonic(), out["bytes"]
        index = IndexKeeper(ctx)
        try:
            for i in range(state.i, len(targets)):
                ctx.check_interrupt()
                path, expect = targets[i]
                self._one(i, path, expect, remover, sizes.get(i))
                state.i = i + 1
                if index.due(state.i - state.synced):
                    self._sync_index(index, targets, state)
                ctx.checkpoint(state)
        finally:  # however it stops, the index forgets what this batch removed
            self._sync_index(index, targets, state)
            index.report()
        return out

    def _sync_index(self, index: IndexKeeper, targets: list, state: DeleteState) -> None:
        """The end of a batch: the index forgets the targets done since the last one (those
        of an earlier run too, which a crash kept from it: ``synced`` is in the checkpoint)."""
        done = [path for path, _ in targets[state.synced:state.i]]
        index.forget(done)
        state.synced = state.i

    def _targets(self) -> list[tuple[str, list | None]]:
        c = self.config
        items: list[tuple[str, list | None]] = [(p, None) for p in c.paths]
        if c.from_file:
            with open(c.from_file, "rb") as f:
                items += [(row[0], row) for row in codec.unpack(f.read())]
        return items

    def _plan(self, targets: list[tuple[str, list | None]]) -> dict:
        """Totals for progress; directories' own counts by target index."""
        files = nbytes = 0
        dirs: dict[int, tuple[int, int]] = {}
        for i, (path, _) in enumerate(targets):
            try:
                st = os.lstat(path)
            except OSError:
                continue
            tally = count(path, st, on_error=None)
            files += tally.files
            nbytes += tally.bytes
            if stat.S_ISDIR(st.st_mode):
                dirs[i] = (tally.files, tally.bytes)
            if i % 500 == 0:
                self.ctx.check_interrupt()
        return {"files": files, "bytes": nbytes, "dirs": dirs}

    def _one(self, i: int, path: str, expect: list | None, remover: Remover, dir_tally) -> None:
        ctx, out = self.ctx, self.out
        why = refusal(path, ctx.library.path, ctx.library.data_dir)
        if why:
            out["refused"] += 1
            ctx.error(why, path=path)
            return
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            out["gone"] += 1  # deleted by an earlier run of this job, or by someone else
            return
        except OSError as exc:
            ctx.error(exc, path=path)
            return
        if expect is not None and len(expect) >= 6:
            changed = _changed(path, st, expect[1], expect[2]) or _keeper_changed(expect[3], expect[4], expect[5])
            if changed:
                out["skipped"] += 1
                ctx.warn(f"left alone: {changed}", path=path)
                return
        ctx.progress(path=path)
        try:
            # a listed path (from dupes) was resolved when listed: a symlink swapped into it since fails it
            resolve = expect is None
            if self.config.mode == "trash":
                trash.trash_path(path, resolve=resolve)
                if dir_tally is not None:
                    self._count(dir_tally[0], dir_tally[1])
                    out["dirs"] += 1
                else:
                    self._count(1, st.st_size if stat.S_ISREG(st.st_mode) else 0)
            else:
                remover.remove(path, st, resolve=resolve)
                if stat.S_ISDIR(st.st_mode):
                    out["dirs"] += 1
        except FileNotFoundError:
            out["gone"] += 1
            return
        except OSError as exc:
            ctx.error(exc, path=path)
            return
        out["targets"] += 1

    def _file_done(self, path: str, nbytes: int) -> None:
        self._count(1, nbytes)

    def _count(self, files: int, nbytes: int) -> None:
        out = self.out
        out["files"] += files
        out["bytes"] += nbytes
        self.ctx.add_items(files)
        self.ctx.add_bytes(nbytes)
        self.ctx.progress(done=out["files"], bytes_done=out["bytes"])
        limit = self.ctx.settings().get("bwlimit")  # bytes/s, e.g. to keep secure overwrites gentle
        if limit:
            wait = (out["bytes"] - self._bytes_at_start) / float(limit) - (time.monotonic() - self._started)
            if wait > 0:
                time.sleep(min(wait, 5.0))

    def _warn(self, path: str, message: str) -> None:
        self.ctx.warn(message, path=path)

    def _error(self, path: str, exc: BaseException | str) -> None:
        self.ctx.error(exc, path=path)


def _changed(path: str, st: os.stat_result, size: int, mtime_ns: int) -> str | None:
    if not stat.S_ISREG(st.st_mode):
        return "no longer a regular file"
    if st.st_size != size or st.st_mtime_ns != mtime_ns:
        return "changed since it was found (size or modification time differ)"
    return None


def _keeper_changed(keep: str, size: int, mtime_ns: int) -> str | None:
    try:
        st = os.lstat(keep)
    except OSError:
        return f"the copy to keep, {keep}, is gone"
    if _changed(keep, st, size, mtime_ns):
        return f"the copy to keep, {keep}, changed since it was found"
    return None
