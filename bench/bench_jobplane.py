"""The job plane's cost: what the store's job verbs take, as a user and a runner meet them.

    python bench/bench_jobplane.py [--rounds N] [--json]

- ``jobs ls`` and ``jobs ls --all --json`` on a library of 10,000 jobs (9,900 finished,
  100 queued): the CLI's wall time, no runner (the command opens the library itself).
- claim latency: one ``submit`` then one ``claim`` by a registered runner, in a library
  of 10,000 jobs (the store's share of the time from submit to claimed; a live runner adds
  its wake-up, which is not the store's).
- progress writes per second: ``write`` (progress + metrics, fenced by the claim) of a
  running job, for about two seconds, as a job's trail thread does.

Each round prints one line of figures; the summary gives the medians. Only store verbs and
the CLI are used (the 10,000 rows are inserted with sqlite3 into the schema the store made),
so that the same file runs against any commit: copy it into another checkout to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sdjobs.core import codec  # noqa: E402
from sdjobs.core.status import Status  # noqa: E402
from sdjobs.store.api import Store  # noqa: E402
from sdjobs.store.library import Library  # noqa: E402

JOBS = 10_000
QUEUED = 100


def make_library(lib: Path) -> None:
    """A library of JOBS jobs: finished copies with their config, context and output, and
    QUEUED queued ones at the end (what `jobs ls` shows first)."""
    Store(Library(lib)).close()  # the schema, as this commit makes it
    now = time.time()
    rows = []
    for i in range(JOBS):
        status = "queued" if i >= JOBS - QUEUED else ("failed" if i % 50 == 0 else "completed")
        finished = None if status == "queued" else now - JOBS + i + 1
        rows.append(("copy", 1, status, i % 3, codec.pack({"sources": [f"/src/{i}"], "dest": "/dst"}),
                     now - JOBS + i, now - JOBS + i, finished,
                     codec.pack({"argv": ["sdjobs", "copy", f"/src/{i}", "/dst"]}),
                     codec.pack({"files": i, "bytes": i * 1000}) if finished else None, codec.pack({})))
    db = sqlite3.connect(lib)
    with db:
        db.executemany("INSERT INTO job (type, type_version, status, priority, config, created_at, updated_at,"
                       " finished_at, context, output, settings) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.close()


def cli_seconds(lib: Path, *args: str) -> float:
    env = {**os.environ, "SDJOBS_LIBRARY": str(lib)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sdjobs", "--library", str(lib), *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"jobs {' '.join(args)} failed: {proc.stderr.decode()[-400:]}")
    return took


def claim_latency(store: Store, runner_id: int, n: int = 100) -> float:
    """Median seconds of submit + claim of one job (then finished, so the next is claimed alone)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        job_id = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"}, priority=10)
        [rec] = store.claim(runner_id, 1)
        times.append(time.perf_counter() - t0)
        assert rec.id == job_id, (rec.id, job_id)
        store.finish(job_id, Status.COMPLETED, runner_id=runner_id)
    return statistics.median(times)


def writes_per_second(store: Store, runner_id: int, seconds: float = 2.0) -> float:
    job_id = store.submit("copy", 1, {"sources": ["/a"], "dest": "/b"}, priority=10)
    [rec] = store.claim(runner_id, 1)
    progress = {"phase": "copy", "bytes_done": 0, "bytes_total": 1 << 30, "items_done": 0, "items_total": 100_000,
                "rate": 1.5e8, "eta": 10.0, "current": "/src/some/where/file.bin", "extra": {"dirs": 12}}
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        n += 1
        progress["bytes_done"], progress["items_done"] = n * 4096, n
        store.write(job_id, progress, {"bytes": n * 4096, "items": n, "warnings": 0, "errors": 0}, [], None,
                    claim=rec.claim)
    store.finish(job_id, Status.COMPLETED, runner_id=runner_id)
    return n / elapsed


def one_round(lib: Path) -> dict[str, float]:
    out = {"jobs_ls_s": cli_seconds(lib, "jobs", "ls"), "jobs_ls_all_json_s": cli_seconds(lib, "jobs", "ls", "--all",
                                                                                        "--json")}
    store = Store(Library(lib))
    runner_id = store.register_runner(1, "bench")
    try:
        out["claim_latency_ms"] = claim_latency(store, runner_id) * 1000
        out["progress_writes_per_s"] = writes_per_second(store, runner_id)
    finally:
        store.unregister_runner(runner_id)
        store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the rounds as JSON lines only")
    ap.add_argument("--library", help="reuse (or create) this library instead of a temporary one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-jobplane-") as tmp:
        lib = Path(args.library) if args.library else Path(tmp) / "library.db"
        if not lib.exists():
            make_library(lib)
        rounds = []
        for _ in range(args.rounds):
            r = one_round(lib)
            rounds.append(r)
            print(json.dumps({k: round(v, 4) for k, v in r.items()}), flush=True)
    if not args.json:
        print("median of", len(rounds), "rounds:", ", ".join(
            f"{k}={statistics.median(r[k] for r in rounds):.4g}" for k in rounds[0]))


if __name__ == "__main__":
    main()
