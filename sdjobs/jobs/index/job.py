"""index: record a tree as a location in the library, fast, exact and resumable.

Three kinds of run, by what the library already knows:

- fresh (a location's first run): the walk streams batches straight into
  ``entry``, each committed with the walk cursor (``index.walk``);
- verify (a re-index of the whole location): the tree is walked in units on
  all cores, and only directories whose digest changed have their children
  staged in ``index_scan`` for the diff (``index.verify``);
- targets (a path inside a location, or ``watch``'s changed paths): those
  subtrees are walked and staged whole.

Phases, each checkpointed in ``index_run`` in the same transaction as the
rows it wrote:

1. discovery: the walk, with subtree sums and directory digests on the way.
2. processing (re-index only): moves, changed and new entries, deletions
   (``index.diff``).
3. aggregation: location totals, new digests; for targets, their ancestors.
4. content: content ids (``--mode content``), full hashes (``--full-hash``)
   and kind / image facts (``--mode deep``) for the files that lack them,
   fanned out over the runner's workers (``index.identify``).
5. done: the location's summary; the run's scratch rows go.

Indexing a directory that contains indexed locations absorbs them.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any, Literal

from ...core.errors import BadInput, JobFailed, NotFound
from ...core.humanize import human_bytes, plural
from ...core.job import Job
from ...fs.rules import WalkRules
from ...fs.identify import WANT_CAS, WANT_DEEP, WANT_FULL
from .diff import process
from .identify import identify_files, lacking_any
from .state import IndexRunState
from .verify import VerifyDiscovery
from .walk import BATCH, TEST_DELAY, Discovery

Mode = Literal["shallow", "content", "deep"]
CHUNK = BATCH
WEIGHTS = {
    False: {"discovery": 0.7, "processing": 0.2, "aggregation": 0.1, "content": 0.0},
    True: {"discovery": 0.25, "processing": 0.1, "aggregation": 0.05, "content": 0.6},
}
_ORDER = ("discovery", "processing", "aggregation", "content")


@dataclasses.dataclass
class IndexConfig:
    path: str
    mode: Mode | None = None          # None: what the location recorded (content for a new one)
    full_hash: bool | None = None     # None: what the location recorded
    depth: int | None = None          # None: recorded; -1: unlimited
    recurse: bool | None = None
    rules: dict = dataclasses.field(default_factory=dict)   # WalkRules fields to override
    only: list[str] = dataclasses.field(default_factory=list)  # refresh just these paths (watch)
    missing_ok: bool = False          # a path that vanished is a deletion to record, not an error
    thumbs: bool = False              # then a child `thumbs` job for the images under path


def _real(path: str) -> str:
    """Absolute, with the directories resolved but not the last component."""
    path = os.path.abspath(os.path.expanduser(path))
    head, tail = os.path.split(path)
    return os.path.join(os.path.realpath(head), tail) if tail else os.path.realpath(path)


def collapse(paths: list[str]) -> list[str]:
    """Sorted, without duplicates and without paths inside another one."""
    out: list[str] = []
    for p in sorted(set(paths), key=os.fsencode):
        if not out or not (p == out[-1] or p.startswith(out[-1].rstrip("/") + "/")):
            out.append(p)
    return out


def _data(ctx: Any) -> Any:
    """The library's data plane (``store/data_plane.py``)."""
    return ctx.library.data


class Index(Job[IndexConfig]):
    name = "index"
    version = 1
    description = "Index a tree into the library: entries, content ids, change detection (resumable)"
    Config = IndexConfig

    @classmethod
    def prepare(cls, c: IndexConfig) -> IndexConfig:
        c.path = os.path.realpath(os.path.abspath(os.path.expanduser(c.path)))
        c.only = collapse([_real(p) for p in c.only])
        return c

    @classmethod
    def validate(cls, c: IndexConfig) -> None:
        if c.depth is not None and c.depth < -1:
            raise BadInput(f"--depth must be 0 or more (or -1 for no limit), not {c.depth}")
        unknown = set(c.rules) - {f.name for f in dataclasses.fields(WalkRules)}
        if unknown:
            raise BadInput(f"unknown rule {sorted(unknown)[0]!r}")
        for p in c.only:
            if not (p == c.path or p.startswith(c.path.rstrip("/") + "/")):
                raise BadInput(f"{p!r} is not inside {c.path!r}")
        if c.missing_ok:
            return
        try:
            is_dir = os.path.isdir(c.path) and os.listdir(c.path) is not None
        except PermissionError:
            raise BadInput(f"cannot read {c.path!r}: permission denied") from None
        except OSError as exc:
            raise BadInput(f"cannot read {c.path!r}: {exc.strerror}") from None
        if not os.path.lexists(c.path):
            raise NotFound(f"cannot index {c.path!r}: no such file or directory")
        if not is_dir:
            raise BadInput(f"cannot index {c.path!r}: not a directory")

    @classmethod
    def summarize(cls, out: dict) -> str:
        if not isinstance(out, dict) or "location" not in out:
            return super().summarize(out)
        from ...fs.names import display_path

        where = display_path(out["location"])
        what = "indexed" if out["path"] == out["location"] else f"refreshed {display_path(out['path'])} in"
        text = (f"{what} {where}: {plural(out['entries'], 'entry', 'entries')}, {plural(out['files'], 'file')},"
                f" {human_bytes(out['bytes'])}")
        changes = ", ".join(f"{out[k]:,} {k}" for k in ("new", "modified", "moved", "deleted"))
        text += f"; {changes}"
        if out.get("identified"):
            n = out["identified"]
            text += f"; read {plural(n, 'file')}"
        return text

    # -- run ------------------------------------------------------------------------
    def run(self, ctx):
        self.ctx = ctx
        done = ctx.load_state()
        if isinstance(done, dict) and "indexed" in done:  # back after waiting for the thumbs child
            return self._with_thumbs(done["indexed"])
        self.data = data = _data(ctx)
        data.tune_for_indexing()
        data.drop_stale_runs()
        if data.load_run(ctx.job_id) is None:
            self._begin()
        loc_id, root, phase, cursor, stored = data.load_run(ctx.job_id)
        st = IndexRunState.load(stored)
        self.loc = data.get_location(loc_id)
        if self.loc is None:
            raise JobFailed("the location was removed while this job was stopped")
        self.st, self.phase_name = st, phase
        self.full_run = st["targets"] == [self.loc.path]
        self.want = (WANT_CAS if st["mode"] in ("content", "deep") else 0) | (WANT_FULL if st["full_hash"] else 0) \
            | (WANT_DEEP if st["mode"] == "deep" else 0)

        if phase == "discovery":
            self._phase("discovery", total=st.get("estimate"), unit="entries")
            if st["kind"] == "verify":
                VerifyDiscovery(ctx, data, ctx.job_id, self.loc, st, self._verify_progress).run()
            else:
                rules = WalkRules.from_dict(st["rules"])
                Discovery(ctx, data, ctx.job_id, loc_id, self.loc.path, rules, st["max_depth"], st["recurse"], st,
                          self._discovery_progress).run(cursor)
            self._next("aggregation" if st["kind"] == "fresh" else "processing")
        if self.phase_name == "processing":
            self._process()
        if self.phase_name == "aggregation":
            self._aggregate()
        if self.phase_name == "content":
            self._identify()
        return self._with_thumbs(self._finish())

    def _with_thumbs(self, out: dict) -> dict:
        """With --thumbs: a child thumbs job over what was indexed; the index is done and
        checkpointed first, so the wait (which frees the worker) never indexes twice."""
        if not self.config.thumbs:
            return out
        self.ctx.checkpoint({"indexed": out}, force=True)
        if not self.ctx.children():
            self.ctx.spawn_child("thumbs", {"paths": [out["path"]]})
        (child, status), *_ = self.ctx.wait_for_children()
        return {**out, "thumbs_job": child, "thumbs_status": status}

    def _begin(self) -> None:
        """Find or create the location and record the run (one transaction)."""
        c, data = self.config, self.data
        now = time.time()
        with data.atomic():
            loc = data.find_location(c.path)
            overrides = dict(c.rules)
            if loc is None:
                rules = WalkRules.from_dict(overrides).to_dict()
                depth = None if c.depth in (None, -1) else c.depth
                recurse = True if c.recurse is None else c.recurse
                mode, full = c.mode or "content", bool(c.full_hash)
                loc_id = data.create_location(c.path, rules=rules, mode=mode, max_depth=depth,
                                             recurse=recurse, now=now)
                absorbed = data.absorb_locations(loc_id, c.path)
                created, root = True, c.path
            else:
                loc_id, root, absorbed, created = loc.id, loc.path, [], False
                whole = c.path == loc.path and not c.only
                rules = {**loc.rules, **overrides} if whole else loc.rules
                depth = loc.max_depth if c.depth is None or not whole else (None if c.depth == -1 else c.depth)
                recurse = loc.recurse if c.recurse is None or not whole else c.recurse
                mode = c.mode or loc.mode
                full = loc.full_hash if c.full_hash is None else c.full_hash
            targets = c.only or [c.path]
            running = [j for j in data.running_index_jobs(loc_id) if j != self.ctx.job_id]
            if running:
                raise JobFailed(f"job {running[0]} is indexing this location now; run this again after it")
            fresh = (created and not absorbed) or (targets == [root] and not data.has_entries(loc_id))
            kind = "fresh" if fresh else "verify" if targets == [root] else "targets"
            state = IndexRunState(
                kind=kind, created=created, fresh=fresh, targets=targets, rules=rules, max_depth=depth,
                recurse=recurse, mode=mode, full_hash=full, absorbed=absorbed,
                estimate=None if created or targets != [root] else (loc.entries or None))
            data.start_run(self.ctx.job_id, loc_id, root, state, now)
        if absorbed:
            self.ctx.log(f"absorbed {len(absorbed)} location(s) inside it: {', '.join(absorbed)}")

    # -- progress --------------------------------------------------------------------
    def _phase(self, name: str, **kw: Any) -> None:
        self._log_phase_end()
        self.phase_name = self.timed_phase = name
        self.phase_started = time.monotonic()
        self.ctx.phase(name, **kw)
        self._percent(0.0)

    def _log_phase_end(self) -> None:
        """One log line per phase with its duration (``sdjobs jobs logs ID``)."""
        started = getattr(self, "phase_started", None)
        if started is not None:
            self.ctx.log(f"{self.timed_phase}: {time.monotonic() - started:.2f} s")
            self.phase_started = None

    def _percent(self, frac: float | None) -> None:
        weights = WEIGHTS[bool(self.want)]
        before = sum(weights[p] for p in _ORDER[:_ORDER.index(self.phase_name)])
        total = sum(weights.values())
        if frac is None:
            self.ctx.progress(percent=None)
        else:
            self.ctx.progress(percent=100.0 * (before + weights[self.phase_name] * min(frac, 1.0)) / total)

    def _verify_progress(self, unit: str, frac: float) -> None:
        st = self.st
        self.ctx.progress(done=st["found"], path=unit, fields={"found": st["found"]})
        self._percent(frac)
        self.ctx.checkpoint({"phase": "discovery", "found": st["found"]})

    def _discovery_progress(self, cursor: str | None) -> None:
        st = self.st
        est = st.get("estimate")
        self.ctx.progress(done=st["found"], path=cursor, fields={"found": st["found"]})
        self._percent(min(st["found"] / est, 0.99) if est else None)
        self.ctx.checkpoint({"phase": "discovery", "found": st["found"]})

    def _next(self, phase: str, **changes: Any) -> None:
        """Move to ``phase`` (inside the caller's transaction when there is one)."""
        self.st.update(changes)
        self.data.save_run(self.ctx.job_id, phase, None, self.st)
        self.phase_name = phase
        self.ctx.checkpoint({"phase": phase}, force=True)

    # -- processing --------------------------------------------------------------------
    def _process(self) -> None:
        process(self)

    @staticmethod
    def _test_delay() -> None:
        if TEST_DELAY:
            time.sleep(TEST_DELAY)

    def _changes(self) -> dict:
        return {k: self.st[k] for k in ("new", "modified", "moved", "deleted")}

    # -- aggregation -----------------------------------------------------------------
    def _aggregate(self) -> None:
        data, st, loc = self.data, self.st, self.loc
        self._phase("aggregation", message="summing subtrees")
        with data.atomic():
            if st["kind"] in ("fresh", "verify") and st["root_total"] and not st.get("walk_errors") \
                    and not st["keep"]:  # what was walked is what is stored: no need to sum it again
                size, files, entries = st["root_total"][0], st["root_total"][1], st["found"]
            elif self.full_run:
                size, files, entries = data.totals_under(loc.id, loc.path)
            else:
                size, files, entries = loc.total_size, None, loc.entries
                deltas = {}
                for t in st["targets"]:
                    now_t = data.totals_under(loc.id, t)
                    old_t = st["old"].get(t, (0, 0, 0))
                    deltas[t] = (now_t[0] - old_t[0], now_t[1] - old_t[1])
                    size += now_t[0] - old_t[0]
                    entries += now_t[2] - old_t[2]
                data.shift_ancestors(loc.id, loc.path, deltas)
            data.update_location(loc.id, entries=entries, total_size=size)
            if st["kind"] == "fresh":
                st["new"] = st["found"]
                data.update_location(loc.id, digest=(st["root_total"] or [0, 0, None])[2])
            elif st["kind"] == "verify":
                data.apply_dir_changes(self.ctx.job_id, loc.id, loc.path)
            else:
                for t in st["targets"]:
                    data.invalidate_digests(loc.id, loc.path, t)
            self._next("content" if self.want else "done", totals=[size, files, entries])
        self._test_delay()

    # -- content ---------------------------------------------------------------------
    def _identify(self) -> None:
        identify_files(self)

    # -- done ------------------------------------------------------------------------
    def _finish(self) -> dict:
        data, st, loc = self.data, self.st, self.loc
        self._log_phase_end()
        self.ctx.phase("done")
        full_ok = bool(st["full_hash"]) and (self.full_run or loc.full_hash)
        changes = self._changes()
        with data.atomic():
            fields: dict[str, Any] = dict(indexed_at=time.time(), last_changes=changes, last_job_id=self.ctx.job_id,
                                          full_hash=int(full_ok))
            fields["identified_want"] = self._identified_want()
            if self.full_run:
                fields.update(rules=st["rules"], mode=st["mode"], max_depth=st["max_depth"],
                              recurse=int(st["recurse"]))
            data.update_location(loc.id, **fields)
            data.drop_run(self.ctx.job_id)
        # Settle this run's writes into the database file now (not at the next writer's
        # commit, and not for every later reader to look up in the WAL).
        data.settle()
        size, files, entries = st["totals"]
        if files is None:
            files = data.count_files(loc.id)
        self.ctx.add_items(st["found"])
        return {"location": loc.path, "path": self.config.path, "mode": st["mode"], "entries": entries,
                "files": files, "bytes": size, "walked": st["found"], **changes,
                "identified": st["identified"], "full_hash": bool(st["full_hash"]), "errors": self.ctx.errors}

    def _identified_want(self) -> int:
        """What every file of the location has after this run (WANT_* bits); an
        unchanged re-index that asks for no more skips the content phase."""
        st, before = self.st, self.data.identified_want(self.loc.id)
        changed = st["new"] or st["modified"] or st["moved"]
        if st.get("content_skipped") or not (self.want or changed):
            return before
        if not self.want:
            return 0  # new or changed files have no content identity yet
        if self.full_run:
            return 0 if lacking_any(self) else self.want
        return 0 if self.ctx.errors else before & self.want

    def on_cancel(self, ctx) -> None:
        data = _data(ctx)
        run = data.load_run(ctx.job_id)
        if run is None:
            return
        loc_id, _root, _phase, _cursor, st = run
        if st.get("created") and not st.get("absorbed"):
            data.remove_location(loc_id)  # a first index that never finished leaves nothing
        else:
            with data.atomic():
                data.drop_run(ctx.job_id)

