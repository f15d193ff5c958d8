"""``sdjobs watch``: keep indexed locations fresh from file system events.

watchfiles gathers events (debounced); each batch is mapped to the location
it belongs to and reduced to a few target paths (the changed paths, nested
ones dropped, coarsened to parent directories when there are very many).
One incremental index job per location and batch refreshes exactly those
targets (``only``); jobs of one location run one after the other
(``after``), so a move within a batch is seen as a move. A path that is
not indexed yet gets a full index job first.

The watcher does not know how jobs are submitted: the command that runs it
(``sdjobs watch``, in ``cli/cmd_index.py``) hands it the store, the paths to
ignore (the library's own files) and a ``submit(config, location_root)``
callable, so this module imports nothing from ``cli``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any
from collections.abc import Callable

from .core.errors import BadInput, NotFound
from .fs.rules import WalkRules

MAX_TARGETS = 200
FALLBACK_SECONDS = 2.0
_LOSSY = "\ufffd"  # watchfiles decodes non-UTF-8 names lossily: refresh the parent instead


Submit = Callable[[dict, str], int]  # (index job config, location root) -> job id


class Watcher:
    def __init__(self, paths: list[str], *, store: Any, ignored: tuple[str, ...], submit: Submit,
                 debounce_ms: int = 500, mode: str | None = None, full_hash: bool | None = None,
                 rules: dict | None = None) -> None:
        self.paths = paths
        self.store, self.ignored, self.submit = store, ignored, submit
        self.debounce_ms = debounce_ms
        self.mode, self.full_hash, self.rules = mode, full_hash, dict(rules or {})
        self.roots: dict[str, str] = {}          # watched dir -> its location root
        self.last_job: dict[str, int] = {}       # location root -> last job queued for it
        self.last_fallback = -FALLBACK_SECONDS
        self.fallback_due = False

    # -- setting up ----------------------------------------------------------------
    def _resolve(self) -> None:
        from .store import index_store as ixs

        for p in self.paths:
            real = os.path.realpath(os.path.abspath(os.path.expanduser(p)))
            if not os.path.lexists(real):
                raise NotFound(f"cannot watch {p!r}: no such file or directory")
            if not os.path.isdir(real):
                raise BadInput(f"cannot watch {p!r}: not a directory")
            loc = ixs.find_location(self.store, real)
            if loc is None:
                job = self._submit({"path": real, "mode": self.mode, "full_hash": self.full_hash,
                                    "rules": self.rules}, real)
                self._say(f"{real} is not indexed yet: indexing it first (job {job})")
                self.roots[real] = real
            else:
                self.roots[real] = loc.path

    def _submit(self, config: dict, root: str) -> int:
        job_id = self.submit(config, root)
        self.last_job[root] = job_id
        return job_id

    # -- the loop -------------------------------------------------------------------
    def run(self) -> None:
        import watchfiles

        self._resolve()
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        self.ready = False
        try:
            while not self._watch(watchfiles):
                pass
        except KeyboardInterrupt:
            pass
        self._say("stopped watching")

    def _watch(self, watchfiles) -> bool:
        """Watch until Ctrl-C (True), or until watchfiles gives up on a name (False)."""
        try:
            for changes in watchfiles.watch(*self.roots, watch_filter=self._keep, debounce=self.debounce_ms,
                                            step=min(200, self.debounce_ms), rust_timeout=500,
                                            yield_on_timeout=True, ignore_permission_denied=True,
                                            raise_interrupt=True):
                if not self.ready:
                    self.ready = True
                    self._say(f"watching {', '.join(self.roots)} (Ctrl-C stops)")
                if changes:
                    self._batch([p for _change, p in changes])
                self._fallback()
        except RuntimeError as exc:
            # watchfiles cannot pass on a change to a name that is not UTF-8, and drops the
            # rest of that batch with it: refresh every location (cheap: unchanged files are
            # not read), no more than once a few seconds, then watch again.
            if "decode" not in str(exc):
                raise
            self.fallback_due = True
            self._fallback()
            return False
        return True

    def _fallback(self) -> None:
        now = time.monotonic()
        if self.fallback_due and now - self.last_fallback >= FALLBACK_SECONDS:
            self.fallback_due, self.last_fallback = False, now
            self._say("a name that is not UTF-8 changed (watchfiles cannot say which): refreshing everything")
            self._batch(list(self.roots))

    def _keep(self, _change, path: str) -> bool:
        return not any(path == i or path.startswith(i) for i in self.ignored)

    def _batch(self, paths: list[str]) -> None:
        self._rules: dict[str, object] = {}
        by_root: dict[str, list[str]] = {}
        for p in paths:
            watched = self._watched_root(p)
            if watched is None:
                continue
            loc_root = self.roots[watched]
            if _LOSSY in p and not os.path.lexists(p):
                p = os.path.dirname(p)
            if not self._passes(loc_root, p):
                continue
            by_root.setdefault(loc_root, []).append(p)
        from .jobs.index.job import collapse

        for loc_root, targets in by_root.items():
            targets = collapse(targets)
            while len(targets) > MAX_TARGETS:
                targets = collapse([os.path.dirname(t) if t != loc_root else t for t in targets])
            config = {"path": loc_root, "only": [] if targets == [loc_root] else targets, "missing_ok": True}
            job = self._submit(config, loc_root)
            shown = targets[0] if len(targets) == 1 else f"{len(targets)} paths"
            self._say(f"job {job}: refreshing {shown} in {loc_root}")

    def _watched_root(self, path: str) -> str | None:
        for root in self.roots:
            if path == root or path.startswith(root.rstrip("/") + "/"):
                return root
        return None

    def _passes(self, loc_root: str, path: str) -> bool:
        """Cheap name rules (the job applies .gitignore): skip .git, clutter, ..."""
        from .store import index_store as ixs

        rules = self._rules.get(loc_root)
        if rules is None:
            loc = ixs.find_location(self.store, loc_root)
            rules = self._rules[loc_root] = WalkRules.from_dict(loc.rules if loc else self.rules).compile()
        rel = os.path.relpath(path, loc_root)
        if rel == ".":
            return True
        comps = rel.split("/")
        for i, name in enumerate(comps):
            if not rules.filter_names([name]):
                return False
            if i < len(comps) - 1 and name in rules.dir_names:
                return False
        return True

    @staticmethod
    def _say(message: str) -> None:
        print(f"sdjobs watch: {message}", file=sys.stderr, flush=True)
