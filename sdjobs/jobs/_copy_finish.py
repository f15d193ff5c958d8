"""copy: the finish phase and the clean-up after a cancel.

Directory modes and times are set deepest first, once their contents are in
(writing a file into a directory changes its mtime); with --move, the source
directories emptied by the copy are removed; a cancelled copy removes its
temporary files.
"""

from __future__ import annotations

import os
from typing import Iterator

from ..fs import copyfile as cf


def finish_dirs(ctx, dirs: list, moved_sources: list[str], renamed_tops: set[int]) -> None:
    """Apply the metadata of the copied directories, deepest first; then remove the
    directories of ``moved_sources`` (a --move), except sources moved by one rename."""
    for dst, st in reversed(dirs):
        try:
            cf.apply_meta(dst, st)
        except OSError as exc:
            ctx.error(dst, exc)
    for src in sorted(set(_source_dirs(moved_sources, renamed_tops)), reverse=True):
        try:
            os.rmdir(src)
        except OSError as exc:
            ctx.warn(f"source directory not removed: {exc.strerror}", src)


def _source_dirs(sources: list[str], renamed_tops: set[int]) -> Iterator[str]:
    for top, src in enumerate(sources):
        if top in renamed_tops or not os.path.isdir(src) or os.path.islink(src):
            continue
        for root, _dirs, _files in os.walk(src):
            yield root


def sweep_temps(targets: list[str], job_id: int) -> None:
    """Remove the temporary files job ``job_id`` left under its targets."""
    for target in targets:
        if os.path.isdir(target) and not os.path.islink(target):
            for root, _dirs, names in os.walk(target):
                for name in names:
                    if cf.is_temp_of(name, job_id):
                        os.unlink(os.path.join(root, name))
        else:
            tmp = cf.temp_name(target, job_id)
            if os.path.lexists(tmp):
                os.unlink(tmp)
