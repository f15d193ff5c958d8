"""Result rows: the cost of storing 1M dupes groups, and `jobs output` of them in bounded memory.

    python bench/bench_output.py [--rows 1000000] [--runs 3] [--save]

1. Write speed of N dupes rows (two-path groups, ~170 bytes of JSON each) as the
   job writes them (``store.results.append``, 5,000 rows a transaction, in the
   library), against the JSON file the job wrote before (one array) and a JSON
   Lines file, each fsynced: the choice between a table and a file beside it.
2. Peak RSS and wall time of ``sdjobs jobs output ID --jsonl``, ``--json`` and
   ``--format fdupes`` (stdout to /dev/null) for N/10 and N rows: the memory
   must not grow with the result.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import BENCH_DIR, SDJOBS  # noqa: E402

from sdjobs.core import codec  # noqa: E402
from sdjobs.jobs.dupes.results import render_group  # noqa: E402
from sdjobs.store import results  # noqa: E402
from sdjobs.store.api import Store  # noqa: E402
from sdjobs.store.library import Library  # noqa: E402

BATCH = 5000  # as core/result_rows.py writes them


def groups(n: int, seed: int = 7):
    rng = random.Random(seed)
    for i in range(n):
        size = rng.randint(1, 10 ** 9)
        yield size, render_group(size, f"{rng.getrandbits(128):032x}", size,
                                 [f"/home/user/Photos/{i // 1000}/IMG_{i:07d}.jpg",
                                  f"/home/user/Backup/Photos/{i // 1000}/IMG_{i:07d}.jpg"])


def fresh_store(where: Path) -> Store:
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    return Store(Library(where / "library.db"))


def store_rows(store: Store, texts: list[tuple[int, str]]) -> int:
    job = store.submit("dupes", 1, {})
    for a in range(0, len(texts), BATCH):
        results.append(store, job, [(t, s, None) for s, t in texts[a:a + BATCH]], start=a,
                       columns=("size", "hash", "wasted", "paths"), name="groups")
    store._sql("PRAGMA wal_checkpoint(PASSIVE)")
    store._sql("UPDATE job SET status='completed', finished_at=?, output=? WHERE id=?",
              (time.time(), codec.pack({"mode": "hash", "scanned": 2 * len(texts), "candidates": 2 * len(texts),
                                         "from_index": 0, "read_bytes": 0, "groups": len(texts),
                                         "duplicates": len(texts), "wasted": sum(s for s, _ in texts)}), job))
    return job


def per_row(where: Path, texts: list[tuple[int, str]]) -> None:
    """The layout this replaced (results schema v1): a table row per result row."""
    import sqlite3

    con = sqlite3.connect(where / "per-row.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("PRAGMA synchronous=normal")
    con.execute("CREATE TABLE job_result (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
                " size INTEGER, severity TEXT, row TEXT NOT NULL)")
    con.execute("CREATE UNIQUE INDEX job_result_seq ON job_result(job_id, seq)")
    for a in range(0, len(texts), BATCH):
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT INTO job_result (job_id, seq, size, severity, row) VALUES (1,?,?,NULL,?)",
                        [(a + i, s, t) for i, (s, t) in enumerate(texts[a:a + BATCH])])
        con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(PASSIVE)")
    con.close()


def write_file(path: Path, text: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write_speed(n: int, runs: int) -> list[tuple[str, list[float]]]:
    texts = list(groups(n))
    out = []
    t_store, t_rows, t_array, t_lines = [], [], [], []
    for _ in range(runs):
        store = fresh_store(BENCH_DIR / "output-write")
        t0 = time.perf_counter()
        store_rows(store, texts)
        t_store.append(time.perf_counter() - t0)
        store.close()
        t0 = time.perf_counter()
        per_row(BENCH_DIR / "output-write", texts)
        t_rows.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        write_file(BENCH_DIR / "output-write" / "groups.json", "[" + ",".join(t for _, t in texts) + "]")
        t_array.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        write_file(BENCH_DIR / "output-write" / "groups.jsonl", "\n".join(t for _, t in texts) + "\n")
        t_lines.append(time.perf_counter() - t0)
    out.append(("library table, chunks of 500 rows (store.results.append, 5,000 rows a transaction)", t_store))
    out.append(("library table, a table row per result row (the first design)", t_rows))
    out.append(("JSON array file (what dupes wrote before)", t_array))
    out.append(("JSON Lines file", t_lines))
    return out


def peak_rss(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall s, peak RSS MB) of ``cmd`` run alone (a fresh process per measure)."""
    probe = [sys.executable, "-c",
             "import resource, subprocess, sys, time; t = time.perf_counter();"
             " subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True);"
             " print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)", *cmd]
    wall, kb = subprocess.run(probe, capture_output=True, text=True, env=env, check=True).stdout.split()
    return float(wall), int(kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--save", action="store_true")
    a = ap.parse_args()
    lines = [f"result rows: {a.rows:,} dupes groups of two paths, median of {a.runs} runs"
             f" ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before)", "",
             "| write | median s | best s |", "|---|---:|---:|"]
    for what, times in write_speed(a.rows, a.runs):
        lines.append(f"| {what} | {statistics.median(times):.2f} | {min(times):.2f} |")
    lines += ["", "| jobs output (stdout to /dev/null) | rows | wall s | peak RSS MB |", "|---|---:|---:|---:|"]
    for n in (a.rows // 10, a.rows):
        where = BENCH_DIR / f"output-{n}"
        store = fresh_store(where)
        job = store_rows(store, list(groups(n)))
        store.close()
        env = {**os.environ, "SDJOBS_LIBRARY": str(where / "library.db")}
        for args in (["--jsonl"], ["--json"], ["--format", "fdupes"]):
            wall, mb = peak_rss([*SDJOBS, "jobs", "output", str(job), *args], env)
            lines.append(f"| {' '.join(args)} | {n:,} | {wall:.2f} | {mb:.0f} |")
    lines.append(f"\n(load average {os.getloadavg()[0]:.1f} at the end)")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.save:
        (Path(__file__).parent / "results" / "output.md").write_text(text)


if __name__ == "__main__":
    main()
