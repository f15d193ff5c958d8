"""Rendering of dupes results: a grouped table, or the fdupes format.

``sdjobs dupes`` and ``sdjobs jobs output`` both print through here, from the
job's result rows in the store, so that the two print the same bytes. Plain
text, not rich tables: a result can have millions of groups, and the output
must stay fast, greppable, and streamed (one group in memory at a time).
"""

from __future__ import annotations

import json
from typing import IO
from collections.abc import Iterable

from . import output

_VERB = {"trash": "trash", "delete": "delete", "hardlink": "link"}


def write_fdupes(texts: Iterable[str], out: IO[bytes]) -> None:
    """fdupes' (and jdupes') plain format: each group's paths, one a line, groups
    separated by a blank line; names as their bytes (os.fsencode). A group across
    hosts (``dupes --indexed --all-hosts``) names each file ``HOST:PATH``."""
    import sys
    from json.scanner import make_scanner

    scan = make_scanner(json.JSONDecoder())  # json's C scanner, without loads()' checks: 2x on 1M groups
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    chunk: list[str] = []
    for text in texts:
        group = scan(text, 0)[0]
        hosts = group.get("hosts")
        chunk.append("\n".join(group["paths"] if hosts is None else
                               (f"{h}:{p}" for h, p in zip(hosts, group["paths"], strict=True))))
        if len(chunk) >= 1000:
            out.write(("\n\n".join(chunk) + "\n\n").encode(encoding, errors))
            chunk = []
    if chunk:
        out.write(("\n\n".join(chunk) + "\n\n").encode(encoding, errors))


def write_table(groups: Iterable[dict], summary: dict, out: IO[str]) -> None:
    """``N × SIZE  wasted SIZE  xxh3 DIGEST`` and the paths of each group (marked
    keep / trash... with --then), then the totals of what was shown. A group across
    hosts names each file ``HOST:PATH``; only the acting host's are marked."""
    from ..core.humanize import plural
    from ..fs.names import display_path

    action = summary.get("action") or {}
    verb = _VERB.get(action.get("then", ""), "")
    applied = action.get("applied")
    n = extra = wasted = 0
    for g in groups:
        count = len(g["paths"])
        n, extra, wasted = n + 1, extra + count - 1, wasted + g["wasted"]
        digest = f"  xxh3 {g['hash'][:16]}" if g.get("hash") else \
            (f"  content id {g['cas_id']}" if g.get("cas_id") else "")
        lines = [f"{count} × {output.human_bytes(g['size'])}  wasted {output.human_bytes(g['wasted'])}{digest}"]
        keep = g.get("keep")
        hosts = g.get("hosts") or [None] * count
        for p, h in zip(g["paths"], hosts, strict=True):
            mark = ""
            if keep is not None and h is not None and h != g.get("host"):
                mark = " " * 9  # another host's: never acted on
            elif keep is not None:
                mark = "keep     " if p == keep else (f"{verb:<9}" if applied else f"{'(' + verb + ')':<9}")
            lines.append(f"  {mark}{'' if h is None else h + ':'}{display_path(p)}")
        out.write("\n".join(lines) + "\n\n")
    if not n:
        out.write("no duplicates found\n")
        return
    out.write(f"{plural(n, 'group')}, {plural(extra, 'extra copy', 'extra copies')},"
              f" {output.human_bytes(wasted)} wasted\n")
