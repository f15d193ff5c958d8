"""copy's walk of its sources, and a walk that runs ahead of the copy in a thread."""

from __future__ import annotations

import dataclasses
import os
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from ...fs.rules import WalkRules
from ...fs.walker import walk_lstat

EVERYTHING = WalkRules(skip_system=False, skip_git=False, gitignore=False)  # a copy leaves nothing out


@dataclasses.dataclass(slots=True)
class Entry:
    src: str
    dst: str
    st: os.stat_result
    top: int  # index of the source this entry comes from
    parent: str = ""  # the destination directory it goes in ("" for a source itself)


def walk(pairs: Iterable[tuple[int, str, str]], on_error: Callable[[str, OSError], None]) -> Iterator[Entry]:
    """Pre-order over (top, source, target), names sorted (by their bytes); symlinks are
    entries, never followed. The shared walker (``fs.walker``) reads the tree: every
    directory opened with O_NOFOLLOW beneath its parent's descriptor, the source
    itself too, so a directory swapped for a symlink during the walk is an error
    (ELOOP), never a way out of the source."""
    for top, src, target in pairs:
        try:
            st = os.lstat(src)
        except OSError as exc:
            on_error(src, exc)
            continue
        yield Entry(src, target, st, top)
        if not stat.S_ISDIR(st.st_mode):
            continue
        root = src.rstrip("/") or "/"
        cut = len(root if root == "/" else root + "/")
        into = target if target.endswith("/") else target + "/"
        for path, parent, est in walk_lstat(root, EVERYTHING, on_error=on_error, follow_root=False):
            yield Entry(path, into + path[cut:], est, top, target if parent == root else into + parent[cut:])


class WalkAhead:
    """Walks in a thread while the copy consumes the entries, counting files and bytes.

    For a copy to targets that do not exist yet, where no conflict can be found
    first: the copy starts at once instead of after a full walk, and the totals
    are known when the walk ends (long before the copy). Errors are queued for
    the job's thread to report."""

    def __init__(self, pairs: Iterable[tuple[int, str, str]]) -> None:
        self.files = self.size = 0
        self.done = False
        self.errors: deque[tuple[str, OSError]] = deque()
        self._queue: deque[Entry] = deque()
        self._failure: BaseException | None = None
        self._stop = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(pairs,), name="copy-walk", daemon=True)
        self._thread.start()

    def _run(self, pairs) -> None:
        try:
            for n, e in enumerate(walk(pairs, lambda path, exc: self.errors.append((path, exc)))):
                if self._stop:
                    break
                mode = e.st.st_mode
                if not stat.S_ISDIR(mode):
                    self.files += 1
                    if stat.S_ISREG(mode):
                        self.size += e.st.st_size
                self._queue.append(e)
                if n % 64 == 0:
                    with self._cond:
                        self._cond.notify()
        except BaseException as exc:  # noqa: BLE001 - handed to the job's thread
            self._failure = exc
        finally:
            with self._cond:
                self.done = True
                self._cond.notify()

    def __iter__(self) -> Iterator[Entry]:
        queue = self._queue
        try:
            while True:
                while queue:
                    yield queue.popleft()
                with self._cond:
                    if not queue and not self.done:
                        self._cond.wait(0.05)
                    if not queue and self.done:
                        break
            if self._failure is not None:
                raise self._failure
        finally:
            self._stop = True
