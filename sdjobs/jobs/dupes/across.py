"""dupes ``--indexed``: duplicates from the index alone, of this host's indexed locations or,
with ``--all-hosts``, of every host's (issue 18: one library, several machines).

No file is read, here or elsewhere: the groups come from what the indexers stored. In
``--mode hash`` a file's content is known by its full xxh3-128 (``index --full-hash``) or
its content id (``cas_id``: xxh3-64 of the size and the whole file up to 100 KiB, of
sampled regions above). Files are grouped by size and content id (by full hash where a
file has no content id); a group whose members all have one full hash is certain
(``hash``); one whose members differ in their full hashes splits by them (members
without one go together); otherwise the group stands on its content id (``hash`` null,
``cas_id`` set: for files over 100 KiB, identical samples, not proven identical bytes).
``--mode size`` and ``name-size`` group by size (and name). ``--mode deep`` compares
bytes, which the index cannot: refused.

Each member names its host (``hosts``, beside ``paths``: two hosts may have the same path).
``--then`` acts on this host's files only, never on another host's (their paths are not
this host's, and the index may be out of date there): in each group proven by its full
hash, the keep rule picks one of this host's copies and the others of this host go;
groups on their content id alone are left alone. The plan file names its host, and acting
on it elsewhere is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii as _js

from ...core.errors import BadInput
from ...core.hostid import this_host
from . import act
from .results import plan, write_json_list

COLUMNS = ("size", "hash", "wasted", "paths", "hosts", "cas_id")


def validate(c) -> None:
    """The combinations ``--indexed`` refuses."""
    if not c.indexed:
        raise BadInput("--all-hosts answers from the index: add --indexed")
    if c.mode == "deep":
        raise BadInput("--mode deep compares the bytes of the files, and --indexed reads none"
                       " (nor can it read another host's): use --mode hash")
    if not c.use_index:
        raise BadInput("--indexed answers from the index: not with --no-index")


def run(job) -> dict:
    """The job's ``--indexed`` run: find the groups, store them; with ``--then``, plan (and
    with ``--yes`` start) the action on this host's files."""
    c, ctx = job.config, job.ctx
    groups, out = find(job)
    ctx.phase("results", message="storing the groups found")
    local: list[dict] = []
    if c.then != "none":
        local, left = local_plan(groups, c.keep)
        out["action"] = {"then": c.then, "keep": c.keep, "applied": False, **act.planned(local)}
        out["left_alone"] = left
        if left["other_hosts"]:
            ctx.log(f"{left['other_hosts']:,} files of the groups are on other hosts: left alone"
                    " (sdjobs acts on this host's files only)")
        if left["unproven_groups"]:
            ctx.log(f"{left['unproven_groups']:,} groups stand on content ids alone: left alone"
                    " (index with --full-hash to act on them)")
        out["results_file"] = write_json_list(ctx.library.data_dir, f"dupes-{ctx.job_id}", local)
    ctx.result_columns(*COLUMNS, *(("keep", "act", "host") if c.then != "none" else ()), name="groups")
    ctx.emit_json_rows(texts(groups, c.then != "none"))
    if c.then != "none" and c.yes:
        return act.start(job, local, out)
    return out


def find(job) -> tuple[list[dict], dict]:
    """The groups (most space wasted first) and the counts of the job's output."""
    c, ctx = job.config, job.ctx
    here = this_host()
    scope = None if c.all_hosts else here
    for p in c.paths:
        if ctx.library.data.find_location(p) is None:
            ctx.warn("not in an indexed location of this host: the index knows nothing of it", path=p)
    ctx.phase("group", message="grouping the index of " + ("every host" if scope is None else "this host"))
    rows = ctx.library.data.indexed_files(scope, c.min_size, c.max_size, c.mode == "hash")
    if c.ext:
        exts = {"." + e for e in c.ext}
        rows = (r for r in rows if os.path.splitext(r[1])[1].lower() in exts)
    files, names, seen = _one_per_file(rows, ctx.check_interrupt)
    if c.mode == "hash":
        groups = _by_content(files)
    else:
        groups = _by_size(files, by_name=c.mode == "name-size")
    out_groups = [_group(g, names, here, c.hardlinks) for g in groups]
    if c.paths:
        out_groups = [g for g in out_groups if _touches(g, here, c.paths)]
    out_groups.sort(key=lambda g: (-g["wasted"], -len(g["paths"]), g["hosts"][0], g["paths"][0]))
    hosts = sorted({h for g in out_groups for h in g["hosts"]})
    out = {"mode": c.mode, "indexed": True, "all_hosts": c.all_hosts, "scanned": seen,
           "candidates": sum(map(len, groups)), "from_index": seen, "read_bytes": 0,
           "groups": len(out_groups), "duplicates": sum(len(g["paths"]) - 1 for g in out_groups),
           "wasted": sum(g["wasted"] for g in out_groups), "hosts": hosts}
    return out_groups, out


def _one_per_file(rows: Iterable[tuple], check) -> tuple[list[tuple], dict, int]:
    """One row per file (the first name of each inode of each host, rows coming by size,
    host, path); the other names of the linked ones, by the kept row's (host, path)."""
    files: list[tuple] = []
    names: dict[tuple[str, str], list[tuple]] = {}
    first: dict[tuple, tuple] = {}
    n = 0
    for n, row in enumerate(rows, 1):
        ident = (row[0], row[4], row[3])  # host, device, inode
        kept = first.get(ident)
        if kept is None:
            first[ident] = row
            files.append(row)
        else:
            names.setdefault((kept[0], kept[1]), []).append(row)
        if n % 65536 == 0:
            check()
    return files, names, n


def _by_content(files: list[tuple]) -> list[list[tuple]]:
    """Groups of 2+ files by (size, content id), split by full hash as the module says."""
    by_key: dict[tuple, list[tuple]] = {}
    for f in files:
        size, cas, full = f[2], f[6], f[7]
        by_key.setdefault((size, "C" + cas if cas else "F" + full), []).append(f)
    out = []
    for members in by_key.values():
        if len(members) < 2:
            continue
        fulls = {f[7] for f in members if f[7]}
        if len(fulls) < 2:
            out.append(members)
            continue
        split: dict[str | None, list[tuple]] = {}
        for f in members:
            split.setdefault(f[7], []).append(f)
        out += [g for g in split.values() if len(g) > 1]
    return out


def _by_size(files: list[tuple], *, by_name: bool) -> list[list[tuple]]:
    by_key: dict[tuple, list[tuple]] = {}
    for f in files:
        by_key.setdefault((f[2], os.path.basename(f[1]) if by_name else ""), []).append(f)
    return [g for g in by_key.values() if len(g) > 1]


def _group(members: list[tuple], names: dict, here: str, hardlinks: bool) -> dict:
    """A group as dupes reports it: this host's members first, then by host and path (the
    rows come by host and path: a stable partition keeps that order)."""
    mine = [f for f in members if f[0] == here]
    if 0 < len(mine) < len(members):
        members = mine + [f for f in members if f[0] != here]
    size = members[0][2]
    inodes = len(members)
    if hardlinks and names:
        members = [x for f in members for x in (f, *names.get((f[0], f[1]), ()))]
    full, cas = members[0][7], members[0][6]
    digest = full if full is not None and all(f[7] == full for f in members) else None
    g = {"size": size, "hash": digest, "wasted": size * (inodes - 1), "paths": [f[1] for f in members],
         "hosts": [f[0] for f in members], "mtimes": [f[5] for f in members]}
    if digest is None and cas is not None and all(f[6] == cas for f in members):
        g["cas_id"] = cas
    return g


def _touches(g: dict, here: str, roots: list[str]) -> bool:
    """Whether one of this host's members is at or under one of ``roots``."""
    real = [os.path.realpath(r).rstrip("/") for r in roots]
    return any(h == here and any(p == r or p.startswith(r + "/") for r in real)
               for p, h in zip(g["paths"], g["hosts"], strict=True))


# -- --then: this host's files only -------------------------------------------------------------
def local_plan(groups: list[dict], keep: str) -> tuple[list[dict], dict]:
    """The groups to act on, as the action takes them (this host's members of the groups
    proven by their full hash, two or more), planned with the keep rule; and what is left
    alone: files on other hosts, groups on their content id alone."""
    here = this_host()
    local, others, unproven = [], 0, 0
    for g in groups:
        mine = [i for i, h in enumerate(g["hosts"]) if h == here]
        others += len(g["hosts"]) - len(mine)
        if g["hash"] is None and g.get("cas_id"):
            unproven += 1
            continue
        if len(mine) < 2:
            continue
        n_files = len({g["paths"][i] for i in mine})
        local.append({"size": g["size"], "hash": g["hash"], "wasted": g["size"] * (n_files - 1),
                      "paths": [g["paths"][i] for i in mine], "mtimes": [g["mtimes"][i] for i in mine],
                      "host": here})
    plan(local, keep)
    marks = {(g["hash"], g["size"], g["paths"][0]): g for g in local}
    for g in groups:  # the whole groups show what this host keeps and what goes
        mine = [p for p, h in zip(g["paths"], g["hosts"], strict=True) if h == here]
        planned = marks.get((g["hash"], g["size"], mine[0])) if mine else None
        if planned is not None:
            g["keep"], g["act"], g["host"] = planned["keep"], planned["act"], here
    return local, {"other_hosts": others, "unproven_groups": unproven}


def describe_left(left: dict) -> str:
    """What ``--then`` left alone, for the job's summary."""
    from ...core.humanize import plural

    text = ""
    if left.get("other_hosts"):
        text += f"; {plural(left['other_hosts'], 'file')} on other hosts left alone"
    if left.get("unproven_groups"):
        text += f"; {plural(left['unproven_groups'], 'group')} on content ids alone left alone"
    return text


def check_plan_host(groups: list[dict]) -> str | None:
    """Why a plan file may not be acted on here (its groups are another host's), or None."""
    here = this_host()
    hosts = {g["host"] for g in groups if g.get("host") and g["host"] != here}
    if hosts:
        return (f"these results were made on host {sorted(hosts)[0]!r}: their paths are that host's;"
                f" act on them there (this host is {here!r})")
    return None


def texts(groups: list[dict], planned: bool) -> Iterable[tuple[str, int, None]]:
    """The groups as result rows (without the mtimes the keep rules needed), as
    ``json.dumps(..., ensure_ascii=True, separators=(",", ":"))`` writes them: by a template
    (a third of the time on 100,000 groups)."""
    keys = COLUMNS + (("keep", "act", "host") if planned else ())
    if planned:
        for g in groups:
            row = {k: g[k] for k in keys if k in g}
            yield json.dumps(row, ensure_ascii=True, separators=(",", ":")), g["size"], None
        return
    js = _js
    for g in groups:
        digest = g["hash"]
        cas = g.get("cas_id")
        yield (_ROW % (g["size"], "null" if digest is None else js(digest), g["wasted"],
                       ",".join(map(js, g["paths"])), ",".join(map(js, g["hosts"])),
                       "" if cas is None else ',"cas_id":' + js(cas)), g["size"], None)


_ROW = '{"size":%d,"hash":%s,"wasted":%d,"paths":[%s],"hosts":[%s]%s}'

