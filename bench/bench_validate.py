"""validate --mode integrity against xxhsum -H2 over the same files, warm cache.

    python bench/bench_validate.py [--root $SDJOBS_BENCH_DIR] [--runs 3] [--save]

Uses the ``mixed`` tree of bench/dupes_data.py (~20,000 files of 1 KiB-256
KiB plus four of 64-128 MiB, about 1.4 GB), indexed once with --full-hash.
Cases, interleaved run by run, median of ``--runs``:

- ``xxhsum -H2`` (xxh3-128, one core) over the indexed files, the list
  prepared beforehand so that only hashing is timed;
- ``sdjobs validate PATH --mode integrity --json`` with a runner already
  started: the whole command; and the job's own run time (what the job spends
  listing, stat-ing and hashing, both cores) from its record.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import dupes_data  # noqa: E402
from bench_dupes import SDJOBS, env, start_runner, stop_runner  # noqa: E402
from common import BENCH_DIR, cpu_check  # noqa: E402


def children_cpu(pid: int | None = None) -> float:
    """CPU seconds of the reaped children of ``pid`` (this process if None)."""
    if pid is None:
        import resource

        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime


def wait_reaped(pid: int, timeout: float = 2.0) -> None:
    """Until ``pid`` (the runner) has no child left but its command server: the finished job is reaped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _job_children(pid):
        time.sleep(0.01)


def _job_children(pid: int) -> list[str]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = []
    for kid in kids:
        try:
            if b"sdjobs.cli.server" not in Path(f"/proc/{kid}/cmdline").read_bytes():
                out.append(kid)
        except OSError:
            pass
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(BENCH_DIR))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--save", action="store_true", help="write the table to bench/results/validate.md")
    a = ap.parse_args(argv)
    root = Path(a.root)
    tree = root / "mixed"
    if not tree.exists():
        dupes_data.mixed(str(tree))
    e = env(root / "validate")
    stop_runner(e)
    subprocess.run(SDJOBS + ["index", str(tree), "--full-hash"], env=e, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    files = [os.path.join(d, f) for d, _, names in os.walk(tree) for f in names
             if os.path.isfile(os.path.join(d, f)) and not os.path.islink(os.path.join(d, f))]
    listing = root / "validate" / "files.nul"
    listing.write_bytes(b"".join(os.fsencode(f) + b"\0" for f in files))
    total = sum(os.path.getsize(f) for f in files)
    xxh = ["xargs", "-0", "-a", str(listing), "xxhsum", "-H2"]
    ours = SDJOBS + ["validate", str(tree), "--mode", "integrity", "--json"]
    runner = start_runner(e)
    times: dict[str, list[float]] = {"xxhsum -H2 (1 core)": [], "sdjobs validate --mode integrity": [],
                                     "  of which the job itself": []}
    cpu: dict[str, list[float]] = {"xxhsum -H2 (1 core)": [], "  of which the job itself": []}
    load_before = os.getloadavg()[0]
    try:
        subprocess.run(xxh, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        subprocess.run(ours, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(a.runs):
            c, t = children_cpu(), time.perf_counter()
            subprocess.run(xxh, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times["xxhsum -H2 (1 core)"].append(time.perf_counter() - t)
            cpu["xxhsum -H2 (1 core)"].append(children_cpu() - c)
            c, t = children_cpu(runner.pid), time.perf_counter()
            proc = subprocess.run(ours, env=e, capture_output=True)
            times["sdjobs validate --mode integrity"].append(time.perf_counter() - t)
            job = json.loads(proc.stdout)["job"]
            rec = json.loads(subprocess.run(SDJOBS + ["jobs", "show", str(job), "--json"], env=e,
                                            capture_output=True, check=True).stdout)
            times["  of which the job itself"].append(rec["run_seconds"])
            wait_reaped(runner.pid)
            cpu["  of which the job itself"].append(children_cpu(runner.pid) - c)
            assert json.loads(proc.stdout)["summary"]["hashed"] == total, "not the same bytes"
    finally:
        stop_runner(e)
        runner.wait(30)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["xxhsum -H2 (1 core)"]
    lines = [f"validate --mode integrity vs xxhsum -H2: {len(files):,} files, {total / 1e9:.2f} GB, warm cache,"
             f" median of {a.runs} runs ({os.cpu_count()} cores, load average {load_before:.1f} before,"
             f" {os.getloadavg()[0]:.1f} at the end; {cpu_check()})",
             "", "| command | median s | best s | this / xxhsum | median CPU s |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {k} | {med[k]:.2f} | {min(v):.2f} | {med[k] / base:.2f} |"
              f" {statistics.median(cpu[k]) if k in cpu else float('nan'):.2f} |".replace(" nan |", " |")
              for k, v in times.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.save:
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "validate.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
