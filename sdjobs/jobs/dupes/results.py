"""Results of dupes and validate: the rows they emit, plan files, the keep rule.

The result itself (dupes groups, validate issues) is the job's result rows in
the library (``ctx.emit_json``, read with ``sdjobs.store.results``), one row
per group or issue, so that listing jobs never unpacks them and ``jobs
output`` streams them. With ``--then``, the groups (with their mtimes, the
kept path and the rest) also go to a JSON file in the library's data folder
(``results/dupes-<job id>.json``): the plan that the action, or a later run
acting on a dry run, reads back. Files written there by earlier versions
(msgpack for validate) are still read (``sdjobs.store.results``).
"""

from __future__ import annotations

import os
from json.encoder import (
    encode_basestring_ascii as quote,  # what json.dumps(ensure_ascii=True) uses
)
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator

from ...core import codec

KEEP_RULES = ("first-arg", "oldest", "newest", "shortest-path")


def results_dir(data_dir: str) -> Path:
    """``results`` in the library's data folder (``ctx.library.data_dir``: for a PostgreSQL
    library, a folder of this host's; its URL is no path to write beside)."""
    return Path(data_dir) / "results"


def write_results(data_dir: str, name: str, data: Any) -> str:
    """Write ``data`` atomically to the library's results folder; returns the path."""
    d = results_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = d / f"{name}.msgpack"
    tmp = d / f".{name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(codec.pack(data))
    os.replace(tmp, path)
    return str(path)


def write_json_list(data_dir: str, name: str, items: list) -> str:
    """Write a list as compact JSON (``<name>.json``): a CLI can pass the text
    through to stdout without parsing it; returns the path."""
    import json

    d = results_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = d / f"{name}.json"
    tmp = d / f".{name}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(json.dumps(items, ensure_ascii=True, separators=(",", ":")))
    os.replace(tmp, path)
    return str(path)


def render_group(size: int, digest: str | None, wasted: int, paths: list[str]) -> str:
    """A group as ``json.dumps(..., ensure_ascii=True, separators=(",", ":"))`` writes it."""
    return '{"size":%d,"hash":%s,"wasted":%d,"paths":[%s]}' % (  # noqa: UP031 - a JSON template
        size, quote(digest) if digest is not None else "null", wasted, ",".join(map(quote, paths)))


def merge_rendered(groups: list[dict], rendered: list) -> list[tuple[str, int, None]]:
    """Groups as result rows (JSON text, size, no severity) in the results' order (most space
    wasted first): ``groups`` as dicts, ``rendered`` as (-wasted, -count, first path, size,
    hash, JSON text), rendered and sorted by the workers. Each row carries its size, which
    is not read back from its text (the results phase runs on one core while the workers wait)."""
    import json

    if not groups:
        return [(r[5], r[3], None) for r in rendered]  # the worker sorted them
    keyed = [(-g["wasted"], -len(g["paths"]), g["paths"][0],
              json.dumps(g, ensure_ascii=True, separators=(",", ":")), g["size"]) for g in groups]
    keyed += [(r[0], r[1], r[2], r[5], r[3]) for r in rendered]
    keyed.sort(key=lambda k: k[:3])
    return [(k[3], k[4], None) for k in keyed]


GROUP_KEYS = ("size", "hash", "wasted", "paths")


def public_group(g: dict) -> dict:
    """A group as a result row: without the mtimes the keep rules needed."""
    out = {"size": g["size"], "hash": g.get("hash"), "wasted": g["wasted"], "paths": g["paths"]}
    if "keep" in g:
        out["keep"], out["act"] = g["keep"], g["act"]
    return out


def emit_groups(ctx, texts: Iterable[str], *, planned: bool = False) -> None:
    """Emit groups (compact JSON texts, as ``render_group`` writes them) as the result rows."""
    ctx.result_columns(*GROUP_KEYS, *(("keep", "act") if planned else ()), name="groups")
    head = '{"size":'
    texts = list(texts)
    ctx.emit_json_rows([(t, int(t[8:t.index(",", 8)]) if t.startswith(head) else size_of(t), None) for t in texts])


def emit_rows(ctx, rows: list[tuple[str, int, None]]) -> None:
    """``emit_groups`` of rows that carry their sizes (``merge_rendered``)."""
    ctx.result_columns(*GROUP_KEYS, name="groups")
    ctx.emit_json_rows(rows)


def size_of(text: str) -> int:
    """The ``size`` of a group's JSON text (they all start with it)."""
    if text.startswith('{"size":'):
        return int(text[8:text.index(",", 8)])
    import json

    return json.loads(text)["size"]


def array_texts(path: str, chunk: int = 1 << 20) -> Iterator[str]:
    """The texts of the groups of a JSON array file of groups as dupes writes them
    (``render_group``: each starts with ``{"size":`` and ends with ``]}``), one by
    one, a chunk of the file in memory at a time. A quote inside a name is escaped,
    so ``]},{"size":`` (an unescaped quote after ``{``) only ever separates groups."""
    sep, head = ']},{"size":', '{"size":'
    with open(path, encoding="ascii") as f:
        buf = f.read(chunk).lstrip()
        if not buf.startswith("["):
            raise ValueError(f"{path}: not a JSON array")
        buf = buf[1:].lstrip()  # from here on, buf starts where a group (or the array's end) does
        while True:
            more = f.read(chunk)
            pieces = buf.split(sep)
            last = pieces.pop()
            for i, p in enumerate(pieces):
                yield (p if i == 0 else head + p) + "]}"
            buf = (head + last if pieces else last) + more
            if not more:
                break
    buf = buf.rstrip()
    if buf != "]":
        if not (buf.endswith("]}]") and buf.startswith(head)):
            raise ValueError(f"{path}: not a JSON array of dupes groups")
        yield buf[:-1]


def read_results(path: str) -> Any:
    """A results file; a JSON list of dupes groups comes back as {"groups": [...]}."""
    if path.endswith(".json"):
        import json

        with open(path, encoding="ascii") as f:
            return {"groups": json.load(f)}
    with open(path, "rb") as f:
        return codec.unpack(f.read())


def results_of(store, job_id: int) -> dict | None:
    """The whole result of a finished job, ``{"groups"|"issues"|"rows": [...]}``,
    or None (for tests and small results: ``sdjobs.store.results.rows`` streams)."""
    from ...store import results

    name = results.name(store, job_id)
    return None if name is None else {name: list(results.rows(store, job_id))}


def keeper(group: dict, rule: str) -> int:
    """Position in ``group["paths"]`` of the file to keep.

    Paths are in argument order, then path order, so ``first-arg`` is the
    first; the other rules fall back on that order for ties."""
    n = len(group["paths"])
    if rule == "oldest":
        return min(range(n), key=lambda i: (group["mtimes"][i], i))
    if rule == "newest":
        return min(range(n), key=lambda i: (-group["mtimes"][i], i))
    if rule == "shortest-path":
        return min(range(n), key=lambda i: (len(os.fsencode(group["paths"][i])), i))
    return 0


def plan(groups: list[dict], rule: str) -> None:
    """Mark each group's ``keep`` path and the ``act`` paths (in place)."""
    for g in groups:
        k = keeper(g, rule)
        g["keep"] = g["paths"][k]
        g["act"] = [p for i, p in enumerate(g["paths"]) if i != k]


def act_rows(groups: list[dict]) -> list[list]:
    """``[path, size, mtime_ns, keep, keep_size, keep_mtime_ns]`` for every file
    to act on: what the delete job re-checks just before it acts."""
    rows = []
    for g in groups:
        k = g["paths"].index(g["keep"])
        for i, p in enumerate(g["paths"]):
            if i != k:
                rows.append([p, g["size"], g["mtimes"][i], g["keep"], g["size"], g["mtimes"][k]])
    return rows
