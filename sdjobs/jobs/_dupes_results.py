"""Results of dupes and validate: sidecar files, the keep rule, the action plan.

A finished dupes or validate job can have hundreds of thousands of paths in
its result. They go to a msgpack file in the library's data folder
(``results/<type>-<job id>.msgpack``) and the job's output names that file,
so listing jobs never unpacks them. Without a library path in the config
(a job submitted by hand) they are kept inline in the output instead.
"""

from __future__ import annotations

import os
from json.encoder import encode_basestring_ascii as quote  # what json.dumps(ensure_ascii=True) uses
from pathlib import Path
from typing import Any

from ..core import codec

KEEP_RULES = ("first-arg", "oldest", "newest", "shortest-path")


def results_dir(library_db: str) -> Path:
    db = Path(library_db)
    return db.with_name(db.stem + "-data") / "results"


def write_results(library_db: str, name: str, data: Any) -> str:
    """Write ``data`` atomically to the library's results folder; returns the path."""
    d = results_dir(library_db)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = d / f"{name}.msgpack"
    tmp = d / f".{name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(codec.pack(data))
    os.replace(tmp, path)
    return str(path)


def write_json_list(library_db: str, name: str, items: list) -> str:
    """Write a list as compact JSON (``<name>.json``): a CLI can pass the text
    through to stdout without parsing it; returns the path."""
    import json

    d = results_dir(library_db)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = d / f"{name}.json"
    tmp = d / f".{name}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(json.dumps(items, ensure_ascii=True, separators=(",", ":")))
    os.replace(tmp, path)
    return str(path)


def render_group(size: int, digest: str | None, wasted: int, paths: list[str]) -> str:
    """A group as ``json.dumps(..., ensure_ascii=True, separators=(",", ":"))`` writes it."""
    return '{"size":%d,"hash":%s,"wasted":%d,"paths":[%s]}' % (
        size, quote(digest) if digest is not None else "null", wasted, ",".join(map(quote, paths)))


def merge_rendered(groups: list[dict], rendered: list) -> list[str]:
    """Groups as JSON texts in the results' order (most space wasted first):
    ``groups`` as dicts, ``rendered`` as (-wasted, -count, first path, size,
    hash, JSON text), rendered and sorted by the workers."""
    import json

    if not groups:
        return [r[5] for r in rendered]  # the worker sorted them
    keyed = [(-g["wasted"], -len(g["paths"]), g["paths"][0],
              json.dumps(g, ensure_ascii=True, separators=(",", ":"))) for g in groups]
    keyed += [(r[0], r[1], r[2], r[5]) for r in rendered]
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def write_json_texts(library_db: str, name: str, texts: list[str]) -> str:
    """``write_json_list`` for items already rendered as JSON (ASCII) texts."""
    d = results_dir(library_db)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = d / f"{name}.json"
    tmp = d / f".{name}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("[" + ",".join(texts) + "]")
    os.replace(tmp, path)
    return str(path)


def link_results(library_db: str, name: str, source: str) -> str:
    """A results file (``<name>.json``) that is ``source``, an earlier run's JSON
    list of groups: a hard link, or a copy; returns the path."""
    import shutil

    d = results_dir(library_db)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = d / f"{name}.json"
    tmp = d / f".{name}.{os.getpid()}.tmp"
    try:
        os.link(source, tmp)
    except OSError:  # another file system, or no hard links there
        shutil.copyfile(source, tmp)
    os.replace(tmp, path)
    return str(path)


def read_results(path: str) -> Any:
    """A results file; a JSON list of dupes groups comes back as {"groups": [...]}."""
    if path.endswith(".json"):
        import json

        with open(path, encoding="ascii") as f:
            return {"groups": json.load(f)}
    with open(path, "rb") as f:
        return codec.unpack(f.read())


def results_of(output: dict | None) -> Any:
    """The full result of a finished job: from its sidecar file or inline."""
    if not output:
        return None
    if output.get("results_file"):
        try:
            return read_results(output["results_file"])
        except FileNotFoundError:
            return None
    return output.get("results")


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
