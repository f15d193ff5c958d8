#!/usr/bin/env python3
"""The job plane under several runners: claim latency and jobs claimed and finished per second.

    python bench/bench_hosts.py [--jobs 2000] [--runners 1,2,4] [--runs 3]

A fresh library gets ``--jobs`` queued jobs; N processes, each a runner as the store sees it
(``register_runner``), claim one job at a time and finish it at once (no job process, no work:
the job plane alone), until nothing is left to claim. Reported per N, the median of ``--runs``:
the claim's latency (median and p99 of every claim, ms) and the throughput (jobs claimed and
finished per second, all runners together, from the start barrier to the last finish). Every
job must be finished exactly once, or the run fails.

SQLite only for now: the PostgreSQL columns say "not yet" until issue 18's backend exists
(it will run the same loop with a ``postgresql://`` library, ``SDJOBS_TEST_POSTGRES``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JOB_TYPE = "bench-noop"  # never run: the runners here finish jobs without starting them


# -- the job plane, through the store's verbs (the one place to change when the contract moves) --

def open_store(library: str):
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    return Store(Library(Path(library)))


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


def one_run(jobs: int, runners: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="sdjobs-bench-hosts-") as tmp:
        library = str(Path(tmp) / "library.db")
        fill(library, jobs)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--runners", default="1,2,4")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"### Job plane: {args.jobs:,} jobs claimed and finished, one at a time (median of {args.runs} runs)\n")
    print("| runners | SQLite claim p50 (ms) | SQLite claim p99 (ms) | SQLite jobs/s "
          "| PostgreSQL claim p50 (ms) | PostgreSQL claim p99 (ms) | PostgreSQL jobs/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(x) for x in args.runners.split(",")):
        runs = [one_run(args.jobs, n) for _ in range(args.runs)]
        p50, p99, rate = (statistics.median(r[k] for r in runs) for k in ("p50", "p99", "rate"))
        print(f"| {n} | {p50 * 1000:.2f} | {p99 * 1000:.2f} | {rate:,.0f} | not yet | not yet | not yet |",
              flush=True)


if __name__ == "__main__":
    main()
