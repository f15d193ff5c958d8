"""dupes: groups of files with identical content, reading as little as possible.

Phases: scan (the walk, spread over the workers), group (by size, hard
links collapsed to one file), then reading passes over what still collides:
the first 4 KiB (small files are read whole at once), the last 4 KiB, the
full xxh3-128, and for ``--mode deep`` a byte-for-byte comparison. A size
group that is a small share of the reading goes through all three steps in
one task (``dupes.hashing.staged_group``): the same reads, one round.
The plain search (no ``--then``, index, ``--bwlimit`` or ``--hardlinks``)
skips the job's own grouping: the walk cuts its files into shards by size and
each shard is grouped, read and rendered by a worker (``dupes.shards``).

One directory of a location indexed with full hashes is answered from the
index (``dupes.indexed``): the tree is checked against the stored directory
digests, the stored hashes are grouped in the workers (and those groups
kept for the next run over the same index: ``dupes.cache``), and only what
changed is read. Elsewhere, files of an indexed location that are unchanged
since the index (same size, inode and mtime) are not read: their stored full
hash (or cas id) stands in.

``--indexed`` answers from the index alone, reading no file, over this host's indexed
locations or, with ``--all-hosts``, every host's (``dupes.across``).

With ``--then trash|delete`` and ``yes``, the files to go are handed to a
child ``delete`` job; ``--then hardlink`` replaces them with hard links to
the kept copy here. Every file is re-checked (size and mtime) just before.
"""

from __future__ import annotations

import dataclasses
import os
import time
from itertools import compress
from typing import ClassVar, Literal

from ...core.errors import BadInput, NotFound
from ...core.job import Job
from ...core.throttle import throttle
from ...fs.rules import WalkRules
from . import act, indexed
from . import groups as grouping
from .groups import BATCH_BYTES, EDGE_BYTES
from .hashing import compare_groups, hash_batch
from .results import (
    KEEP_RULES,
    array_texts,
    emit_groups,
    emit_rows,
    merge_rendered,
    plan,
    render_group,
    write_json_list,
)
from . import shards
from .scan import Files, Filters, scan

CHECKPOINT_EVERY = 5.0   # at least; more when writing one costs more than 4% of that


@dataclasses.dataclass
class DupesConfig:
    paths: list[str] = dataclasses.field(default_factory=list)
    mode: Literal["hash", "deep", "size", "name-size"] = "hash"
    min_size: int = 1                  # empty files are not duplicates unless asked (as jdupes)
    max_size: int | None = None
    ext: list[str] = dataclasses.field(default_factory=list)
    rules: dict = dataclasses.field(default_factory=dict)   # WalkRules fields
    hardlinks: bool = False            # report hard links to one file as duplicates of each other
    use_index: bool = True
    then: Literal["none", "trash", "delete", "hardlink"] = "none"
    keep: Literal["first-arg", "oldest", "newest", "shortest-path"] = "first-arg"
    yes: bool = False                  # act; otherwise the action is a dry run
    plan_file: str = ""                # act on the results of an earlier dry run instead of scanning
    indexed: bool = False              # from the index alone, reading no file (``dupes.across``)
    all_hosts: bool = False            # with ``indexed``: every host's locations, not only this host's
    # ``library`` was a field (where the library is): the job has ``ctx.library`` now; an old
    # configuration that names it still loads (``core/fields.py`` drops RETIRED keys)
    RETIRED: ClassVar[tuple[str, ...]] = ("library",)


class Dupes(Job[DupesConfig]):
    name = "dupes"
    version = 1
    description = "Find duplicate files (size, then first/last 4 KiB, then xxh3-128); optionally act on them"
    Config = DupesConfig

    @classmethod
    def prepare(cls, c: DupesConfig) -> DupesConfig:
        c.paths = [os.path.abspath(p) for p in c.paths]
        c.ext = sorted({e.lower().lstrip(".") for e in c.ext if e.strip(".")})
        if c.plan_file:
            c.plan_file = os.path.abspath(c.plan_file)
        return c

    @classmethod
    def validate(cls, c: DupesConfig) -> None:
        if c.plan_file:
            if not os.path.isfile(c.plan_file):
                raise NotFound(f"no dupes results at {c.plan_file!r}")
            if c.then == "none":
                raise BadInput("acting on earlier results needs --then trash|delete|hardlink")
            from .across import check_plan_host
            from .results import read_results

            refused = check_plan_host(read_results(c.plan_file)["groups"])
            if refused:
                raise BadInput(refused)
        elif c.indexed or c.all_hosts:
            from .across import validate

            validate(c)
        elif not c.paths:
            raise BadInput("dupes needs at least one path (or --indexed: what the index knows)")
        for p in c.paths:
            if not os.path.exists(p):
                raise NotFound(f"cannot search {p!r}: no such file or directory")
        if c.min_size < 0 or (c.max_size is not None and c.max_size < c.min_size):
            raise BadInput("--max-size must be at least --min-size, and sizes not negative")
        if c.keep not in KEEP_RULES:
            raise BadInput(f"--keep must be one of {', '.join(KEEP_RULES)}")
        if c.then != "none" and c.mode in ("size", "name-size"):
            raise BadInput(f"--then needs identical content: not with --mode {c.mode}")
        WalkRules.from_dict(c.rules)

    @classmethod
    def summarize(cls, out: dict) -> str:
        from ...core.humanize import human_bytes as _size
        from ...core.humanize import plural

        n, extra = out["groups"], out["duplicates"]
        text = (f"{plural(n, 'group')} of duplicates, {plural(extra, 'extra copy', 'extra copies')},"
                f" {_size(out['wasted'])} wasted ({plural(out['scanned'], 'file')} scanned")
        if out.get("from_index"):
            text += f", {out['from_index']:,} answered from the index"
        text += f", {_size(out['read_bytes'])} read)"
        if out.get("all_hosts"):
            text += f" on {plural(len(out.get('hosts') or ()), 'host')}"
        a = out.get("action")
        if a:
            text += "; " + act.describe(a)
        if out.get("left_alone"):
            from .across import describe_left

            text += describe_left(out["left_alone"])
        return text

    @classmethod
    def describe_action(cls, action: dict) -> str:
        """What ``--then`` did or would do, in words (the command's confirmation says it too)."""
        return act.describe(action)

    # -- run ------------------------------------------------------------------
    def run(self, ctx):
        c = self.config
        self.ctx = ctx
        state = ctx.load_state() or {"stage": "scan"}
        if state["stage"] in ("act", "spawn", "wait"):
            return act.resume(self, state)
        if c.plan_file:
            from .across import check_plan_host
            from .results import read_results

            groups = read_results(c.plan_file)["groups"]
            refused = check_plan_host(groups)  # checked before submitting too; the job may run elsewhere
            if refused:
                raise BadInput(refused)
            plan(groups, c.keep)
            out = {"mode": c.mode, "scanned": 0, "candidates": 0, "from_index": 0, "read_bytes": 0,
                   **_totals(groups), "plan_file": c.plan_file}
            return act.start(self, groups, out)
        if c.indexed:
            from . import across

            return across.run(self)
        self.read_bytes = state.get("read_bytes", 0)
        if state["stage"] == "compare" and state["todo"]:
            ctx.log(f"resumed from a checkpoint: {state['done']:,} of {len(state['todo']['idx']):,} files"
                    f" of the current pass were already read")
        if state["stage"] == "scan":
            state = self._scan_and_group()
        if state["stage"] == "shards":
            if state["done"]:
                ctx.log(f"resumed from a checkpoint: {state['done']:,} of {state['scanned']:,} files"
                        f" were already compared")
            out = shards.settle(self, state)
            ctx.phase("results", message="storing the groups found")
            self._store_results(out, [])
            return out
        found = self._compare(state)
        ctx.phase("results", message="sorting and storing the groups found")
        out = self._report(state, found)
        groups = self.groups
        if c.then != "none":
            from ...core.hostid import this_host

            plan(groups, c.keep)
            here = this_host()
            for g in groups:  # the plan file's paths are this host's: acting on it elsewhere is refused
                g["host"] = here
            out["action"] = {"then": c.then, "keep": c.keep, "applied": False, **act.planned(groups)}
            if c.yes:
                self._store_results(out, groups)
                return act.start(self, groups, out)
        self._store_results(out, groups)
        return out

    # -- scan and group by size -------------------------------------------------
    def _scan_and_group(self) -> dict:
        c, ctx = self.config, self.ctx
        workers = os.cpu_count() or 1
        mapper = lambda fn, items, per: ctx.map(fn, items, chunksize=per)  # noqa: E731
        index = ctx.library.data.reader() if c.use_index and c.mode not in ("size", "name-size") else None
        fast = indexed.plan(c, index) if index is not None else None
        if fast is not None:
            ctx.phase("scan", message=f"checking {fast.given} against the index")
            ans = indexed.answer(fast, mapper, workers, ctx.check_interrupt)
            for path, msg in ans.errors:
                ctx.error(msg, path=path)
            files = Files()
            for path, size, ino, dev, mtime, known in ans.files:
                files.add(path, size, ino, dev, mtime, 0)
                files.known[-1] = known
            kept = ans.kept and {"json": ans.kept.json, "groups": ans.kept.groups,
                                 "duplicates": ans.kept.duplicates, "wasted": ans.kept.wasted}
            return self._group(files, ans.scanned, rendered=ans.groups, in_groups=ans.in_groups, kept=kept)
        ctx.phase("scan", message="walking " + ", ".join(c.paths))
        filters = Filters(c.min_size, c.max_size, tuple(c.ext))
        if self._one_round(index):
            return shards.scan(self, filters, workers, index)
        files, stats = scan(c.paths, WalkRules.from_dict(c.rules), filters, mapper, workers,
                            lambda path, problem: ctx.error(problem, path=path), ctx.check_interrupt,
                            index=index)
        if _overlapping(c.paths):
            files = _dedupe(files)
        return self._group(files, len(files))

    # -- the one-round path (``dupes.shards``) -----------------------------------
    def _one_round(self, index) -> bool:
        c = self.config
        return (c.mode == "hash" and c.then == "none" and not c.hardlinks
                and not self.ctx.settings().get("bwlimit") and not _overlapping(c.paths))

    def _group(self, files: Files, scanned: int, rendered: list | None = None, in_groups: int = 0,
               kept: dict | None = None) -> dict:
        """The compare stage's state: size groups (hard links collapsed) of the
        files still to settle; ``rendered`` groups (from the index) are final,
        and so are the ``kept`` ones (a results file and its totals)."""
        c = self.config
        self.ctx.phase("group", message=f"grouping {len(files):,} files by size")
        groups, links = grouping.size_groups(files, c.hardlinks, by_name=c.mode == "name-size")
        n_members = sum(map(len, groups))
        if n_members + sum(map(len, links.values())) < len(files):  # keep only what can still be a duplicate
            cand = sorted({i for g in groups for i in g} | {j for i in links for j in [i, *links[i]]})
            remap = {old: new for new, old in enumerate(cand)}
            files = files.take(cand)
            groups = [[remap[i] for i in g] for g in groups]
            links = {remap[i]: [remap[j] for j in js] for i, js in links.items() if i in remap}
        known: dict[int, str] = {}
        if any(files.known):
            members = {i for g in groups for i in g}
            known = {i: k for i, k in enumerate(files.known) if k and i in members}
        files.known = []
        from_index = sum(1 for k in known.values() if k[0] == "F") + in_groups
        return {"stage": "compare", "files": files.to_state(), "links": links, "groups": groups,
                "known": known, "scanned": scanned, "candidates": n_members + in_groups,
                "from_index": from_index, "rendered": rendered or [], "kept": kept,
                "final": [], "keys": {}, "todo": None, "done": 0, "read_bytes": 0}

    # -- reading passes ---------------------------------------------------------
    def _compare(self, state: dict) -> list[list[int]]:
        c = self.config
        self.files = files = Files.from_state(state["files"])
        self.state = state
        if c.mode in ("size", "name-size"):
            return grouping.with_link_groups(state["groups"], state["links"], c.hardlinks)
        keys: dict[int, str] = state["keys"]
        known: dict[int, str] = state["known"]
        self._last_cp, self._cp_cost = time.monotonic(), 0.0
        if known and not keys and state["todo"] is None:
            state["groups"] = grouping.settle_known(state["groups"], known, state["final"])
        while state["groups"] or state["todo"]:
            if state["todo"] is None:
                state["todo"] = grouping.next_pass(state["groups"], keys, known, files.sizes)
                state["done"] = 0
            todo = state["todo"]
            self._read(todo, keys)
            settled = set(todo.get("settled") or ())  # whole groups the workers settled
            still, final = grouping.regroup([g for i, g in enumerate(state["groups"]) if i not in settled]
                                            if settled else state["groups"], keys)
            state["final"] += final
            state["groups"], state["todo"], state["done"] = still, None, 0
        groups = state["final"]
        if c.mode == "deep":
            groups = self._deep(groups)
        return grouping.with_link_groups(groups, state["links"], c.hardlinks)

    def _read(self, todo: dict, keys: dict[int, str]) -> None:
        ctx, files, state = self.ctx, self.files, self.state
        idx, kinds = todo["idx"], todo["kinds"]
        sizes = files.sizes
        spans = todo.get("spans")  # none in a checkpoint of an older sdjobs
        if spans is not None:
            cost = grouping.span_costs(spans)
        elif "C" in kinds or "S" in kinds:
            cost = [grouping.cost(k, sizes[i]) for i, k in zip(idx, kinds, strict=True)]
        elif all(k == "F" for k in set(kinds)):
            cost = list(map(sizes.__getitem__, idx))
        else:
            cost = [sizes[i] if k == "F" else min(sizes[i], EDGE_BYTES) for i, k in zip(idx, kinds, strict=True)]
        total_bytes = sum(cost)
        ctx.phase(todo["name"], total=len(idx), unit="files", bytes_total=total_bytes or None)
        start = state["done"]
        ctx.progress(done=start, bytes_done=sum(cost[:start]))
        glue = None
        if "S" in kinds:
            glue = grouping.span_glue(spans) if spans is not None else grouping.staged_runs(kinds, idx, sizes)
        bounds = grouping.bounds(cost, start, glue=glue)
        paths, sizes = files.paths, files.sizes
        schedule = _Schedule(ctx)
        staging = "S" in kinds
        render = self._render_spec() if staging else None
        args = files.args if render and render[0] else None
        batches = (("".join(kinds[a:b]), "\0".join(map(paths.__getitem__, idx[a:b])),
                    list(map(sizes.__getitem__, idx[a:b])), schedule.slot(sum(cost[a:b])),
                    render and (args and list(map(args.__getitem__, idx[a:b])),)) for a, b in bounds)
        started = time.monotonic()
        done_bytes = sum(cost[:start])
        hashed = ctx.map(hash_batch, batches, chunksize=1)
        for (a, b), (digests, errors, staged, settled) in zip(bounds, hashed, strict=True):
            if staging:  # settled files have no digest of their own: None
                keys.update(compress(zip(idx[a:b], digests, strict=True), digests))
            else:
                keys.update(zip(idx[a:b], digests, strict=True))
            if render:
                state["rendered"] += settled
            else:
                for digest, members in settled:
                    members = [idx[a + p] for p in members]
                    keys.update(dict.fromkeys(members, "F" + digest))
                    state["final"].append(members)
            for pos, err in errors:
                keys.pop(idx[a + pos], None)
                ctx.error(err, path=paths[idx[a + pos]])
            n = sum(cost[a:b]) if "S" not in kinds else \
                staged + sum(c for c, k in zip(cost[a:b], kinds[a:b], strict=True) if k != "S")
            if n > sum(cost[a:b]):  # a staged group read past its first 4 KiB: the pass reads that much more
                total_bytes += n - sum(cost[a:b])
                ctx.progress(bytes_total=total_bytes)
            done_bytes += n
            self.read_bytes += n
            state["done"] = b
            ctx.add_items(b - a)
            ctx.add_bytes(n)
            ctx.progress(done=b, bytes_done=done_bytes, path=paths[idx[b - 1]])
            throttle(ctx, started, done_bytes - sum(cost[:start]))
            ctx.check_interrupt()
            self._maybe_checkpoint()

    def _render_spec(self) -> tuple | None:
        """What the workers need to render the groups they settle as results (see
        ``dupes.hashing.render_settled``), or None when the job must see them as
        groups: to compare their bytes, act on them, or add hard links' names."""
        c, files = self.config, self.files
        if c.mode != "hash" or c.then != "none" or (c.hardlinks and self.state["links"]):
            return None
        return (len(set(files.args)) > 1,)

    def _checkpoint_due(self) -> bool:
        return time.monotonic() - self._last_cp >= max(CHECKPOINT_EVERY, 25 * self._cp_cost)

    def _maybe_checkpoint(self) -> None:
        now = time.monotonic()
        if self._checkpoint_due():
            self.state["read_bytes"] = self.read_bytes
            self.ctx.checkpoint(self.state, force=True)
            self._last_cp = time.monotonic()
            self._cp_cost = self._last_cp - now

    def _deep(self, groups: list[list[int]]) -> list[list[int]]:
        ctx, files = self.ctx, self.files
        sizes = files.sizes
        ctx.phase("compare bytes", total=len(groups), unit="groups",
                  bytes_total=sum(sizes[g[0]] * len(g) for g in groups) or None)
        batches: list[list[list[int]]] = []
        cur, acc = [], 0
        for g in groups:
            cur.append(g)
            acc += sizes[g[0]] * len(g)
            if len(cur) >= 256 or acc >= BATCH_BYTES:
                batches.append(cur)
                cur, acc = [], 0
        if cur:
            batches.append(cur)
        schedule = _Schedule(ctx)
        work = (([([files.paths[i] for i in g], sizes[g[0]]) for g in b],
                 schedule.slot(sum(sizes[g[0]] * len(g) for g in b))) for b in batches)
        out: list[list[int]] = []
        done = done_bytes = 0
        started = time.monotonic()
        for batch, results in zip(batches, ctx.map(compare_groups, work, chunksize=1), strict=True):
            for g, (classes, errors) in zip(batch, results, strict=True):
                for pos, err in errors:
                    ctx.error(err, path=files.paths[g[pos]])
                out += [[g[p] for p in cls] for cls in classes if len(cls) > 1]
                done += 1
                done_bytes += sizes[g[0]] * len(g)
                self.read_bytes += sizes[g[0]] * len(g)
            ctx.progress(done=done, bytes_done=done_bytes)
            throttle(ctx, started, done_bytes)
            ctx.check_interrupt()
        return out

    # -- report -----------------------------------------------------------------
    def _report(self, state: dict, groups: list[list[int]]) -> dict:
        c, files = self.config, self.files
        links: dict[int, list[int]] = state["links"]
        keys: dict[int, str] = {**state["known"], **state["keys"]}
        out_groups = []
        one_root = len(set(files.args)) <= 1
        paths, sizes, mtimes, args = files.paths, files.sizes, files.mtimes, files.args
        order = paths.__getitem__ if one_root else (lambda i: (args[i], paths[i]))
        with_mtimes = c.then != "none"  # the keep rules and the re-checks need them
        as_text = not with_mtimes  # straight to the JSON texts of the result rows
        rendered = [tuple(r) for r in state.get("rendered") or []]  # lists, after a checkpoint
        for g in groups:
            members = sorted(g, key=order) if len(g) > 1 else g
            size = sizes[members[0]]
            inodes = len(members)  # one path per inode so far: links were collapsed
            if links and c.hardlinks:
                members = [j for i in members for j in (i, *links.get(i, ()))]
            key = keys.get(members[0], "")
            digest = key[1:] if key[:1] == "F" else None
            names = list(map(paths.__getitem__, members))
            if as_text:
                wasted = size * (inodes - 1)
                rendered.append((-wasted, -len(names), names[0], size, digest,
                                 render_group(size, digest, wasted, names)))
                continue
            group = {"size": size, "hash": digest, "wasted": size * (inodes - 1), "paths": names}
            if with_mtimes:
                group["mtimes"] = [mtimes[i] for i in members]
            out_groups.append(group)
        if as_text and rendered:
            rendered.sort()
        if rendered and c.then != "none":  # the plan needs dicts
            import json

            out_groups += json.loads("[" + ",".join(r[5] for r in rendered) + "]")
            rendered = []
        ranked = sorted([(-g["wasted"], -len(g["paths"]), g["paths"][0], i) for i, g in enumerate(out_groups)])
        out_groups = [out_groups[r[3]] for r in ranked]
        self.groups, self.rendered = out_groups, rendered
        totals = _totals(out_groups)
        self.kept = state.get("kept")
        if self.kept:
            for k in ("groups", "duplicates", "wasted"):
                totals[k] += self.kept[k]
        if rendered:
            totals["groups"] += len(rendered)
            totals["duplicates"] += sum(-r[1] - 1 for r in rendered)
            totals["wasted"] -= sum(r[0] for r in rendered)
        return {"mode": c.mode, "scanned": state["scanned"], "candidates": state["candidates"],
                "from_index": state["from_index"], "read_bytes": self.read_bytes, **totals}

    def _store_results(self, out: dict, groups: list[dict]) -> None:
        """The groups as the job's result rows (most space wasted first); with
        --then, also the plan file that the action (or acting on a dry run) reads."""
        c, ctx = self.config, self.ctx
        if c.then != "none":
            from ...store.results import dumps
            from .results import public_group

            out["results_file"] = write_json_list(ctx.library.data_dir, f"dupes-{ctx.job_id}", groups)
            emit_groups(ctx, (dumps(public_group(g)) for g in groups), planned=True)
        elif self.kept:  # the only groups: from an earlier run over the same index
            emit_groups(ctx, array_texts(self.kept["json"]))
        elif self.rendered:
            emit_rows(ctx, merge_rendered(groups, self.rendered))
        else:
            emit_groups(ctx, (render_group(g["size"], g["hash"], g["wasted"], g["paths"]) for g in groups))


# -- helpers (pure) ---------------------------------------------------------------
def _totals(groups: list[dict]) -> dict:
    return {"groups": len(groups), "duplicates": sum(len(g["paths"]) - 1 for g in groups),
            "wasted": sum(g["wasted"] for g in groups)}


def _overlapping(paths: list[str]) -> bool:
    real = [os.path.realpath(p).rstrip("/") + "/" for p in paths]
    return any(i != j and a.startswith(b) for i, a in enumerate(real) for j, b in enumerate(real))


def _dedupe(files: Files) -> Files:
    seen: set[tuple[int, int, str]] = set()
    keep = []
    for i, p in enumerate(files.paths):
        key = (files.devs[i], files.inos[i], os.path.realpath(p))
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return files.take(keep)


class _Schedule:
    """--bwlimit for the reading workers: consecutive batches get consecutive time
    slots, (start, rate), the bytes before a batch at the limit deciding its start
    (see ``dupes.hashing.Pacer``). Batches are taken ahead of time by the pool and run
    on several workers at once; the slots keep all of them together within the limit
    in every phase, where throttling the results as they come back let the workers
    read a whole window of batches ahead (twice the limit in the first-4 KiB pass)."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.next = 0.0

    def slot(self, nbytes: int) -> tuple[float, float] | None:
        limit = self.ctx.settings().get("bwlimit")
        if not limit:
            return None
        start = max(self.next, time.monotonic())
        self.next = start + nbytes / float(limit)
        return start, float(limit)
