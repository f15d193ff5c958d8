#!/usr/bin/env python3
"""The job plane under several runners: claim latency and jobs claimed and finished per second,
on SQLite and on PostgreSQL; and `jobs ls` on a library of 100,000 jobs on each.

    python bench/bench_hosts.py [--jobs 2000] [--runners 1,2,4] [--runs 3] [--postgres URL]
                                [--ls-jobs 100000]

A fresh library gets ``--jobs`` queued jobs; N processes, each a runner as the store sees it
(``register_runner``), claim one job at a time and finish it at once (no job process, no work:
the job plane alone), until nothing is left to claim. Reported per N, the median of ``--runs``:
the claim's latency (median and p99 of every claim, ms) and the throughput (jobs claimed and
finished per second, all runners together, from the start barrier to the last finish). Every
job must be finished exactly once, or the run fails. On PostgreSQL the job table is analyzed
after the submits (as autovacuum does within its minute: on a table never analyzed, each claim
sorts every queued job).

`jobs ls`: the CLI's wall time (median of ``--runs``, no runner, so no command server: a cold
process that imports, opens and lists) on a library of ``--ls-jobs`` jobs, all but 100 of them
finished, inserted in bulk into the schema the store made.

PostgreSQL: ``--postgres URL`` or ``$SDJOBS_TEST_POSTGRES`` names a database whose role may
create databases; each run gets a fresh database of its own, dropped after it. Without one
the PostgreSQL columns say "not run".
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JOB_TYPE = "bench-noop"  # never run: the runners here finish jobs without starting them
QUEUED = 100  # of the `jobs ls` library: the rest is history


# -- the job plane, through the store's verbs (the one place to change when the contract moves) --

def open_store(library: str):
    from sdjobs.store.open import open_store as open_library

    return open_library(library)


def fill(library: str, jobs: int) -> None:
    store = open_store(library)
    try:
        for i in range(jobs):
            store.submit(JOB_TYPE, 1, {"i": i}, context={"argv": ["bench"]})
    finally:
        store.close()


def runner(library: str, barrier, results) -> None:
    """One runner: claim a job, finish it, until none is left; report claim latencies and ids."""
    from sdjobs.core.status import Status

    store = open_store(library)
    runner_id = store.register_runner(1, "foreground")
    latencies: list[float] = []
    done: list[int] = []
    barrier.wait()
    while True:
        t0 = time.perf_counter()
        claimed = store.claim(runner_id, 1)
        latencies.append(time.perf_counter() - t0)
        if not claimed:
            break
        job = claimed[0]
        if store.finish(job.id, Status.COMPLETED, runner_id=runner_id):
            done.append(job.id)
    ended = time.perf_counter()
    store.unregister_runner(runner_id)
    store.close()
    results.put((latencies, done, ended))


# -- where the libraries are ------------------------------------------------------------------

@contextmanager
def sqlite_library():
    with tempfile.TemporaryDirectory(prefix="sdjobs-bench-hosts-") as tmp:
        yield str(Path(tmp) / "library.db")


@contextmanager
def postgres_library(base: str):
    """A fresh database on ``base``'s server, dropped afterwards."""
    import psycopg

    name = f"sdjobs_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def analyzed(library: str) -> None:
    """PostgreSQL: the statistics autovacuum would have gathered within its minute after the
    submits (a claim planned on an empty table's sorts every queued job)."""
    if library.startswith("postgres"):
        import psycopg

        with psycopg.connect(library, autocommit=True) as db:
            db.execute("VACUUM ANALYZE job")


def one_run(make, jobs: int, runners: int) -> dict:
    with make() as library:
        fill(library, jobs)
        analyzed(library)
        ctx = mp.get_context("spawn")
        barrier, results = ctx.Barrier(runners + 1), ctx.Queue()
        procs = [ctx.Process(target=runner, args=(library, barrier, results)) for _ in range(runners)]
        for p in procs:
            p.start()
        barrier.wait()
        start = time.perf_counter()
        outs = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
    latencies = sorted(x for out in outs for x in out[0])
    done = [j for out in outs for j in out[1]]
    if sorted(done) != list(range(1, jobs + 1)):
        raise SystemExit(f"{runners} runners: {len(done)} finishes for {jobs} jobs, {len(set(done))} distinct")
    wall = max(out[2] for out in outs) - start
    return {"p50": latencies[len(latencies) // 2], "p99": latencies[int(len(latencies) * 0.99)],
            "rate": jobs / wall}


# -- jobs ls on a big library --------------------------------------------------------------------

def _rows(jobs: int):
    from sdjobs.core import codec

    now = time.time()
    for i in range(jobs):
        status = "queued" if i >= jobs - QUEUED else ("failed" if i % 50 == 0 else "completed")
        finished = None if status == "queued" else now - jobs + i + 1
        yield ("copy", 1, status, i % 3, codec.pack({"sources": [f"/src/{i}"], "dest": "/dst"}),
               now - jobs + i, now - jobs + i, finished, codec.pack({"argv": ["sdjobs", "copy", f"/src/{i}", "/dst"]}),
               codec.pack({"files": i, "bytes": i * 1000}) if finished else None, codec.pack({}), "copy")


_INSERT = ("INSERT INTO job (type, type_version, status, priority, config, created_at, updated_at, finished_at,"
           " context, output, settings, action) VALUES ")


def bulk_fill(library: str, jobs: int) -> None:
    """``jobs`` jobs inserted straight into the schema the store made (submit is the claim
    bench's business; here only the listing is measured)."""
    open_store(library).close()
    if library.startswith("postgres"):
        import psycopg

        with psycopg.connect(library) as db, db.cursor() as cur:
            with cur.copy("COPY job (type, type_version, status, priority, config, created_at, updated_at,"
                          " finished_at, context, output, settings, action) FROM STDIN") as copy:
                for row in _rows(jobs):
                    copy.write_row(row)
        return
    import sqlite3

    db = sqlite3.connect(library)
    with db:
        db.executemany(_INSERT + "(?,?,?,?,?,?,?,?,?,?,?,?)", _rows(jobs))
    db.close()


def jobs_ls_seconds(make, jobs: int, runs: int) -> float:
    with make() as library:
        bulk_fill(library, jobs)
        analyzed(library)
        times = []
        with tempfile.TemporaryDirectory(prefix="sdjobs-bench-ls-") as xdg:
            env = {**os.environ, "XDG_DATA_HOME": xdg, "SDJOBS_LIBRARY": library}
            for _ in range(runs + 1):  # the first warms the page cache and the server's buffers
                t0 = time.perf_counter()
                proc = subprocess.run([sys.executable, "-m", "sdjobs", "jobs", "ls"], env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                times.append(time.perf_counter() - t0)
                if proc.returncode != 0:
                    raise SystemExit(f"jobs ls failed: {proc.stderr[-400:]}")
        return statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--runners", default="1,2,4")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ls-jobs", type=int, default=100_000)
    ap.add_argument("--postgres", default=os.environ.get("SDJOBS_TEST_POSTGRES"),
                    help="a PostgreSQL URL whose role may create databases (default: $SDJOBS_TEST_POSTGRES)")
    args = ap.parse_args()
    backends = {"SQLite": sqlite_library}
    if args.postgres:
        backends["PostgreSQL"] = lambda: postgres_library(args.postgres)
    print(f"### Job plane: {args.jobs:,} jobs claimed and finished, one at a time (median of {args.runs} runs)\n")
    print("| runners | SQLite claim p50 (ms) | SQLite claim p99 (ms) | SQLite jobs/s "
          "| PostgreSQL claim p50 (ms) | PostgreSQL claim p99 (ms) | PostgreSQL jobs/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(x) for x in args.runners.split(",")):
        cells = []
        for name in ("SQLite", "PostgreSQL"):
            if name not in backends:
                cells += ["not run"] * 3
                continue
            runs = [one_run(backends[name], args.jobs, n) for _ in range(args.runs)]
            p50, p99, rate = (statistics.median(r[k] for r in runs) for k in ("p50", "p99", "rate"))
            cells += [f"{p50 * 1000:.2f}", f"{p99 * 1000:.2f}", f"{rate:,.0f}"]
        print(f"| {n} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n### `jobs ls` on {args.ls_jobs:,} jobs ({QUEUED} queued), cold CLI, no runner (median of {args.runs})\n")
    print("| backend | seconds |")
    print("|---|---:|")
    for name in ("SQLite", "PostgreSQL"):
        cell = f"{jobs_ls_seconds(backends[name], args.ls_jobs, args.runs):.3f}" if name in backends else "not run"
        print(f"| {name} | {cell} |", flush=True)


if __name__ == "__main__":
    main()
