"""Rendering of dupes results: a grouped table, JSON, or the fdupes format.

Plain text, not rich tables: a result can have tens of thousands of groups,
and the output must stay fast and greppable.
"""

from __future__ import annotations

import os
import sys

from . import output

_VERB = {"trash": "trash", "delete": "delete", "hardlink": "link"}


def public_group(g: dict) -> dict:
    out = {"size": g["size"], "hash": g.get("hash"), "wasted": g["wasted"], "paths": g["paths"]}
    if "keep" in g:
        out["keep"], out["act"] = g["keep"], g["act"]
    return out


def print_compact_json(data) -> None:
    """One line of JSON: json's C encoder only runs without ``indent``, and a
    result can hold hundreds of thousands of paths (indent=2 is ~6x slower)."""
    import json

    sys.stdout.write(json.dumps(data, ensure_ascii=True, default=output._json_default) + "\n")


def pass_through_json(rec, results_file: str) -> None:
    """The same document as ``print_groups(..., "json")``, with the groups
    copied as the job wrote them (then ``keep``/``act``/``mtimes`` with --then)."""
    import json

    summary = {k: v for k, v in (rec.output or {}).items() if k != "results"}
    head = json.dumps({"job": rec.id, "status": rec.status, "summary": summary}, ensure_ascii=True,
                      default=output._json_default)
    out = sys.stdout
    out.write(head[:-1] + ', "groups": ')
    with open(results_file, encoding="ascii") as f:
        while chunk := f.read(1 << 20):
            out.write(chunk)
    out.write("}\n")


def print_groups(rec, groups: list[dict], fmt: str) -> None:
    summary = {k: v for k, v in (rec.output or {}).items() if k not in ("results",)}
    if fmt == "json":
        print_compact_json({"job": rec.id, "status": rec.status, "summary": summary,
                            "groups": [public_group(g) for g in groups]})
        return
    if fmt == "fdupes":
        write = sys.stdout.buffer.write
        for g in groups:
            write(b"".join(os.fsencode(p) + b"\n" for p in g["paths"]) + b"\n")
        sys.stdout.flush()
        return
    _table(groups, summary)


def _table(groups: list[dict], summary: dict) -> None:
    from ..fs.names import display_path

    action = summary.get("action") or {}
    verb = _VERB.get(action.get("then", ""), "")
    applied = action.get("applied")
    lines: list[str] = []
    for g in groups:
        n = len(g["paths"])
        digest = f"  xxh3 {g['hash'][:16]}" if g.get("hash") else ""
        lines.append(f"{n} × {output.human_bytes(g['size'])}  wasted {output.human_bytes(g['wasted'])}{digest}")
        keep = g.get("keep")
        for p in g["paths"]:
            mark = ""
            if keep is not None:
                mark = "keep     " if p == keep else (f"{verb:<9}" if applied else f"{'(' + verb + ')':<9}")
            lines.append(f"  {mark}{display_path(p)}")
        lines.append("")
    n, extra = len(groups), sum(len(g["paths"]) - 1 for g in groups)
    total = (f"{n:,} group{'s' * (n != 1)}, {extra:,} extra cop{'ies' if extra != 1 else 'y'},"
             f" {output.human_bytes(sum(g['wasted'] for g in groups))} wasted")
    lines.append(total if groups else "no duplicates found")
    sys.stdout.write("\n".join(lines) + "\n")
