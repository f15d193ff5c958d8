"""``sdjobs index --ephemeral``: walk and summarise, writing nothing to the library.

Runs in the CLI process (there is nothing to resume): counts and sizes by
kind on stdout, or with ``--json`` one JSON object per entry (JSON lines).
Content ids (``--mode content``/``deep``) are computed in a local process
pool.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

from ..core.errors import BadInput, NotFound
from ..core.humanize import plural


def run_ephemeral(path: str, *, mode: str, full_hash: bool, depth: int | None, recurse: bool | None,
                  rules: dict, as_json: bool, workers: int | None) -> None:
    from ..fs.names import display_path
    from ..fs.rules import WalkRules
    from ..fs.walker import walk
    from . import output

    root = os.path.realpath(os.path.abspath(os.path.expanduser(path)))
    if not os.path.lexists(root):
        raise NotFound(f"cannot index {path!r}: no such file or directory")
    if not os.path.isdir(root):
        raise BadInput(f"cannot index {path!r}: not a directory")
    errors = 0

    def on_error(p: str, exc: BaseException) -> None:
        nonlocal errors
        errors += 1
        output.err(f"sdjobs: {display_path(p)}: {getattr(exc, 'strerror', None) or exc}")

    entries = walk(root, WalkRules.from_dict(rules), max_depth=None if depth in (None, -1) else depth,
                   recurse=recurse is not False, on_error=on_error)
    want = (1 if mode in ("content", "deep") else 0) | (2 if full_hash else 0) | (4 if mode == "deep" else 0)
    stream = _with_content(entries, want, workers) if want else ((e, None) for e in entries)
    by_kind: dict[str, list[int]] = {}
    write = sys.stdout.write
    import json

    for e, ident in stream:
        key = ident.kind_class if ident is not None and ident.kind_class else e.kind
        acc = by_kind.setdefault(key, [0, 0])
        acc[0] += 1
        acc[1] += e.size if e.kind == "file" else 0
        if as_json:
            row = {"path": e.path, "name": e.name, "parent": e.parent, "kind": e.kind, "size": e.size,
                   "inode": e.inode, "device": e.device, "mode": e.mode, "mtime_ns": e.mtime_ns}
            if ident is not None:
                row.update({k: v for k, v in ident._asdict().items() if k not in ("id", "error") and v is not None})
            write(json.dumps(row, ensure_ascii=True) + "\n")
    if as_json:
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold", title=Text(display_path(root)), title_justify="left")
    for col in ("KIND", "ENTRIES", "SIZE"):
        table.add_column(col, justify="left" if col == "KIND" else "right")
    for kind, (n, size) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
        table.add_row(kind, f"{n:,}", output.human_bytes(size))
    n_all = sum(v[0] for v in by_kind.values())
    table.add_row("total", f"{n_all:,}", output.human_bytes(sum(v[1] for v in by_kind.values())), style="bold")
    output.console().print(table)
    if errors:
        output.err(f"{plural(errors, 'entry', 'entries')} could not be read")


def _with_content(entries, want: int, workers: int | None) -> Iterator:
    """Pair each entry with its Identity (None for non-files), in walk order,
    a bounded batch at a time."""
    import multiprocessing
    from itertools import islice

    from ..core.display import safe
    from ..fs.identify import identify

    with multiprocessing.get_context("fork").Pool(workers or os.cpu_count() or 1) as pool:
        while batch := list(islice(entries, 5000)):
            files = [(i, e.path, e.size, want) for i, e in enumerate(batch) if e.kind == "file"]
            found = {ident.id: ident for ident in pool.map(identify, files, chunksize=64)}
            for i, e in enumerate(batch):
                ident = found.get(i)
                if ident is not None and ident.error:
                    print(safe(f"sdjobs: {e.path}: {ident.error}"), file=sys.stderr)
                yield e, ident
