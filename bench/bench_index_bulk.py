#!/usr/bin/env python3
"""The index's bulk writes through the data plane, on SQLite and on PostgreSQL.

    python bench/bench_index_bulk.py [--entries 100000] [--runs 3] [--postgres URL]

A synthetic walk of ``--entries`` entries (directories of 250 files, sorted as the walker
sends them) goes through the data plane's verbs as the index job calls them, in batches of
the walker's size (5,000):

- **first index**: ``write_discovered(fresh=True)`` of every batch (rows straight into ``entry``);
- **re-index**: ``write_discovered(fresh=False)`` of the same walk with one file in ten
  changed (staged in ``index_scan``), then ``apply_chunk`` over it (changed rows updated);
- **content ids**: ``content_worker().record`` of every file, in ranges of 1,250 (the
  index job's ``RANGE``), as the workers write them.

On PostgreSQL (``--postgres`` or ``$SDJOBS_TEST_POSTGRES``: a URL whose role may create
databases; each run gets a fresh database), the first two are measured with each way
``PgDataPlane`` can write a batch (``data_pg.BULK``): ``copy`` (COPY into the table) and
``insert`` (the multi-row INSERTs SQLite uses). Reported: rows per second of wall time
(median of ``--runs``), and the client's CPU seconds (PostgreSQL's server works in its own
processes: its CPU is not in that column).
"""

from __future__ import annotations

import argparse
import os
import statistics
import stat
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 5000
RANGE = 1250
PER_DIR = 250


def walk(entries: int, changed: bool = False) -> list[list]:
    """Flat values (8 per entry), in batches of BATCH entries, in path byte order."""
    rows = []
    n_dirs = max(1, entries // (PER_DIR + 1))
    ino = 1000
    for d in range(n_dirs):
        dpath = f"/bench/tree/d{d:05d}".encode()
        ino += 1
        rows.append((dpath, dpath.rsplit(b"/", 1)[1], "dir", 0, ino, 2049, stat.S_IFDIR | 0o755, 1_700_000_000_000_000_000))
        for f in range(PER_DIR):
            ino += 1
            name = f"file{f:04d}.bin".encode()
            mtime = 1_700_000_000_000_000_000 + ino + (1 if changed and f % 10 == 0 else 0)
            rows.append((dpath + b"/" + name, name, "file", 1000 + f, ino, 2049, stat.S_IFREG | 0o644, mtime))
    rows = sorted(rows[:entries])
    flat = [v for r in rows for v in r]
    return [flat[i:i + 8 * BATCH] for i in range(0, len(flat), 8 * BATCH)]


def timed(fn) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def one_run(store, entries: int) -> dict[str, tuple[float, float]]:
    from sdjobs.store.data_plane import open_data_plane
    from sdjobs.store.index_content import ContentFound, ContentScope

    data = open_data_plane(store)
    first, again = walk(entries), walk(entries, changed=True)
    job = store.submit("index", 1, {"path": "/bench/tree"})
    with data.atomic():
        loc = data.create_location("/bench/tree", rules={}, mode="content", max_depth=None, recurse=True, now=1.0)
        data.start_run(job, loc, "/bench/tree", {}, 1.0)
    data.tune_for_indexing()
    out = {}

    def first_index():
        for batch in first:
            data.write_discovered(job, loc, batch, [], fresh=True, cursor=batch[-8], state=b"\x80")

    out["first index"] = timed(first_index)
    scope = ContentScope(loc, cas=True, full=False, deep=False)
    worker = data.content_worker()
    ranges = list(data.content_ranges(scope, 0, RANGE))

    def content():
        for lo, hi in ranges:
            rows = worker.rows(scope, lo, hi)
            worker.record(job, [ContentFound(r.id, f"{r.id:016x}", None, None, None, None, None) for r in rows],
                          cas_only=True)

    out["content ids"] = timed(content)
    with data.atomic():
        data.drop_run(job)
    job2 = store.submit("index", 1, {"path": "/bench/tree"})
    with data.atomic():
        data.start_run(job2, loc, "/bench/tree", {}, 2.0)

    def reindex():
        for batch in again:
            data.write_discovered(job2, loc, batch, [], fresh=False, cursor=batch[-8], state=b"\x80")
        after, modified = b"", 0
        while True:
            upto = data.chunk_end(job2, after, BATCH)
            with data.atomic():
                modified += data.apply_chunk(job2, loc, after, upto)[0]
            if upto is None:
                break
            after = upto
        want = sum(1 for b in again for i in range(0, len(b), 8) if b[i + 2] == "file" and int(b[i][-8:-4]) % 10 == 0)
        assert modified == want, (modified, want)  # every changed file, nothing else

    out["re-index"] = timed(reindex)
    data.settle()
    return out


def sqlite_store(tmp: str):
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    return Store(Library(Path(tmp) / f"{uuid.uuid4().hex}.db")), None


def pg_store(base: str):
    import psycopg

    from sdjobs.store.open import open_store

    name = f"sdjobs_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    from urllib.parse import urlsplit, urlunsplit

    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    return open_store(url), name


def drop(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--postgres", default=os.environ.get("SDJOBS_TEST_POSTGRES"))
    ap.add_argument("--modes", default="copy,insert", help="PostgreSQL's ways of writing a batch")
    args = ap.parse_args()
    configs = [("SQLite", None)]
    if args.postgres:
        configs += [(f"PostgreSQL ({m})", m) for m in args.modes.split(",")]
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("SDJOBS_BENCH_DIR")) as tmp:
        for run in range(args.runs):
            for label, mode in configs:  # interleaved: a slow minute of the machine hits every config
                if mode is None:
                    store, name = sqlite_store(tmp)
                else:
                    from sdjobs.store import data_pg

                    data_pg.BULK = mode
                    store, name = pg_store(args.postgres)
                try:
                    got = one_run(store, args.entries)
                finally:
                    store.close()
                    if name is not None:
                        drop(args.postgres, name)
                for phase, t in got.items():
                    results.setdefault(label, {}).setdefault(phase, []).append(t)
                print(f"run {run + 1}: {label}: " + ", ".join(f"{p} {w:.2f} s" for p, (w, _c) in got.items()),
                      file=sys.stderr)
    phases = ["first index", "re-index", "content ids"]
    print(f"{args.entries:,} entries, batches of {BATCH:,}, median of {args.runs} runs"
          " (rows per second of wall time; client CPU seconds)\n")
    print("| backend | " + " | ".join(phases) + " |")
    print("|---|" + "---:|" * len(phases))
    for label, _mode in configs:
        cells = []
        for phase in phases:
            ts = results[label][phase]
            wall = statistics.median(w for w, _c in ts)
            cpu = statistics.median(c for _w, c in ts)
            cells.append(f"{args.entries / wall:,.0f}/s ({cpu:.2f} s CPU)")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
