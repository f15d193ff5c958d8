"""copy: the finish phase and the clean-up after a cancel or a failure.

Directory modes and times are set deepest first, once their contents are in
(writing a file into a directory changes its mtime), each through a
descriptor opened beneath the destination (a directory swapped for a symlink
is an error, never a chmod of what it points to); with --move, the source
directories emptied by the copy are removed; a cancelled or failed copy
removes its temporary files (those with its token, never through a symlink).
"""

from __future__ import annotations

import os
import stat
from typing import NamedTuple
from collections.abc import Callable, Iterator

from ...fs import copyfile as cf
from ...fs.walker import walk_lstat
from .walk import EVERYTHING


class DirMeta(NamedTuple):
    """What the finish phase applies to a directory: from the source's stat, kept in the checkpoint."""
    st_mode: int
    st_uid: int
    st_gid: int
    st_atime_ns: int
    st_mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> list:
        return [st.st_mode, st.st_uid, st.st_gid, st.st_atime_ns, st.st_mtime_ns]


def finish_dirs(ctx, dirs: list, dest: Callable[[int, str], tuple[int, str]], moved_sources: list[str],
                renamed_tops: set[int], source: Callable[[int, str], tuple[int, str]] | None = None) -> None:
    """Apply the metadata of the copied directories, deepest first; then remove the
    directories of ``moved_sources`` (a --move), except sources moved by one rename.
    ``dest(top, path)`` and ``source(top, path)`` give (directory descriptor, name),
    resolved beneath the destination or the source."""
    for top, dst, meta in reversed(dirs):
        try:
            pfd, name = dest(top, dst)
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            try:
                cf.apply_meta(fd, meta)
            finally:
                os.close(fd)
        except OSError as exc:
            ctx.error(f"directory metadata not applied: {exc.strerror}", path=dst)
    for top, src in sorted(set(_source_dirs(moved_sources, renamed_tops)), key=lambda d: d[1], reverse=True):
        try:
            if source is None:
                os.rmdir(src)
            else:
                pfd, name = source(top, src)
                os.rmdir(name, dir_fd=pfd)  # (never through a directory swapped for a symlink)
        except OSError as exc:
            ctx.warn(f"source directory not removed: {exc.strerror}", path=src)


def _source_dirs(sources: list[str], renamed_tops: set[int]) -> Iterator[tuple[int, str]]:
    for top, src in enumerate(sources):
        if top in renamed_tops or not os.path.isdir(src) or os.path.islink(src):
            continue
        yield top, src
        for path, _parent, st in walk_lstat(src, EVERYTHING, follow_root=False):  # the shared walker
            if stat.S_ISDIR(st.st_mode):
                yield top, path


def sweep_temps(targets: list[str], token: str) -> None:
    """Remove the temporary files of the job with ``token`` under its targets (and beside them)."""
    for target in targets:
        _sweep_dir(os.path.dirname(target) or "/", token)
        try:
            st = os.lstat(target)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        for _root, _dirs, names, dfd in os.fwalk(target, follow_symlinks=False):
            for name in names:
                if cf.is_temp_of(name, token):
                    cf.unlink_quiet(dfd, name)


def _sweep_dir(path: str, token: str) -> None:
    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        for name in os.listdir(dfd):
            if cf.is_temp_of(name, token):
                cf.unlink_quiet(dfd, name)
    finally:
        os.close(dfd)
