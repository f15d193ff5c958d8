"""Benchmark ``sdjobs index`` against the floor of "walk and persist" and a full-read hash.

    python bench/bench_index.py [--tree DIR] [--runs 3] [--out bench/results/index.md]

Generates (once, kept for reuse) a tree of about 200,000 entries under
$SDJOBS_BENCH_DIR (default /tmp/sdjobs-bench): 16 x 16 x 16 directories of 48
files, 10% empty, most under 4 KiB, 1% of 100-300 KiB (sampled by the content
id), about 0.9 GB. Then, in one run with a warm cache, the median of
``--runs`` runs of each:

- the floor: ``find -printf '%p\\t%s\\t%T@\\t%i\\n' | sqlite3 .import`` into a fresh database;
- ``xxhsum -H3`` of every file, two processes (reads whole files: what content ids avoid);
- ``sdjobs index --mode shallow`` and ``--mode content``, first runs (the location is
  forgotten, untimed, before each) and re-runs of the unchanged tree.

The sdjobs commands are the real CLI (submit, follow to the end, print the
summary) with a warm background runner, as a user types them. Peak RSS is
measured separately: one run of each mode under a foreground runner that
exits when idle, reading the largest resident size of any process of the run
(the job process and its workers) from getrusage.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import BENCH_DIR, SDJOBS, have, machine, rm  # noqa: E402


def generate(root: Path) -> tuple[int, int]:
    """Build the tree unless it is there; returns (files, entries)."""
    marker = root.with_name(root.name + ".complete")  # beside the tree: not an entry of it
    if marker.exists():
        files, entries = map(int, marker.read_text().split())
        return files, entries
    rm(root)
    rng = random.Random(42)
    blob = os.urandom(1 << 20)
    files = dirs = 0
    for a in range(16):
        for b in range(16):
            for c in range(16):
                d = root / f"d{a:02d}" / f"s{b:02d}" / f"leaf{c:02d}"
                d.mkdir(parents=True, exist_ok=True)
                for i in range(48):
                    r = rng.random()
                    size = (0 if r < 0.10 else rng.randint(1, 4096) if r < 0.90 else
                            rng.randint(4096, 16384) if r < 0.99 else rng.randint(100_000, 300_000))
                    off = rng.randint(0, len(blob) - size)
                    ext = rng.choice(["txt", "jpg", "py", "bin", "md"])
                    with open(d / f"file{i:03d}.{ext}", "wb") as f:
                        f.write(blob[off:off + size])
                    files += 1
    dirs = 16 + 16 * 16 + 16 * 16 * 16
    marker.write_text(f"{files} {files + dirs}")
    return files, files + dirs


def run(cmd: list[str] | str, *, shell: bool = False, env: dict | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}): {proc.stderr.decode()[-800:]}")
    return elapsed


def peak_rss_mb(lib: Path, tree: Path, mode: str) -> float:
    """Largest RSS of any process of one index run: a foreground runner is our
    child, so its reaped descendants (the job process, its workers) count."""
    sd = SDJOBS + ["--library", str(lib)]
    subprocess.run(sd + ["runner", "stop"], capture_output=True)
    subprocess.run(sd + ["locations", "rm", str(tree)], capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    runner = subprocess.Popen(sd + ["runner", "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    job = subprocess.run(sd + ["index", str(tree), "--mode", mode, "--detach"], capture_output=True, text=True,
                         check=True).stdout.strip()
    subprocess.run(sd + ["jobs", "wait", job], capture_output=True, check=True)
    runner.terminate()
    runner.wait(60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return after / 1024 if after > before else float("nan")  # nan: an earlier child was bigger


def quick(runs: int, floor: str, floor_db: Path, idx: list[str], forget: list[str]) -> None:
    """Floor and shallow first run in turns; wall and CPU (for the floor: its processes;
    for sdjobs: the CLI only, the runner's job is not our child) of each."""
    ratios = []
    for i in range(runs):
        floor_db.unlink(missing_ok=True)
        t_floor = run(floor, shell=True)
        subprocess.run(forget, capture_output=True)
        t_idx = run(idx + ["--mode", "shallow"])
        ratios.append(t_idx / t_floor)
        print(f"run {i + 1}: floor {t_floor:.2f} s, shallow {t_idx:.2f} s, {t_idx / t_floor:.2f}x;"
              f" load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"median ratio {statistics.median(ratios):.2f}x, best {min(ratios):.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, default=BENCH_DIR / "index-tree")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "index.md")
    ap.add_argument("--quick", action="store_true",
                    help="only the floor and shallow first runs, side by side, each pair printed (writes no --out)")
    args = ap.parse_args()

    tree = args.tree.resolve()
    tree.mkdir(parents=True, exist_ok=True)
    print(f"generating {tree} (once) ...", file=sys.stderr)
    files, entries = generate(tree)
    work = BENCH_DIR / "index-work"
    work.mkdir(parents=True, exist_ok=True)
    lib = work / "library.db"
    for p in (lib, lib.with_name("library.db-wal"), lib.with_name("library.db-shm")):
        p.unlink(missing_ok=True)
    sd = SDJOBS + ["--library", str(lib)]
    idx = sd + ["index", str(tree)]
    forget = sd + ["locations", "rm", str(tree)]
    run(f"find {tree} -type f -print0 | xargs -0 cat > /dev/null", shell=True)  # warm the page cache
    run(idx + ["--mode", "shallow"])  # warm-up; starts the background runner

    times: dict[str, list[float]] = {}
    floor_db = work / "floor.db"
    floor = (f"find {tree} -printf '%p\\t%s\\t%T@\\t%i\\n' | sqlite3 {floor_db} "
             f"-cmd 'CREATE TABLE e(path, size, mtime, inode)' '.mode tabs' '.import /dev/stdin e'")
    hashall = f"find {tree} -type f -print0 | xargs -0 -n 2000 -P 2 xxhsum -H3 > /dev/null"
    have_sqlite, have_xxh = have("sqlite3"), have("xxhsum")
    if args.quick:
        quick(args.runs, floor, floor_db, idx, forget)
        subprocess.run(sd + ["runner", "stop"], capture_output=True)
        return
    for _ in range(args.runs):
        if have_sqlite:
            floor_db.unlink(missing_ok=True)
            times.setdefault("find | sqlite3 .import (floor)", []).append(run(floor, shell=True))
        if have_xxh:
            times.setdefault("xxhsum -H3 every file, 2 procs", []).append(run(hashall, shell=True))
        subprocess.run(forget, capture_output=True)
        times.setdefault("sdjobs index --mode shallow", []).append(run(idx + ["--mode", "shallow"]))
        times.setdefault("sdjobs index --mode shallow (unchanged, again)", []).append(run(idx))
        subprocess.run(forget, capture_output=True)
        times.setdefault("sdjobs index --mode content", []).append(run(idx + ["--mode", "content"]))
        times.setdefault("sdjobs index (content, unchanged, again)", []).append(run(idx))
    rss = {mode: peak_rss_mb(lib, tree, mode) for mode in ("shallow", "content")}

    med = {k: statistics.median(v) for k, v in times.items()}
    base = med.get("find | sqlite3 .import (floor)")
    lines = [f"### sdjobs index: {entries:,} entries ({files:,} files, "
             f"{sum(p.stat().st_size for p in tree.rglob('*') if p.is_file()) / 1e9:.2f} GB), warm cache",
             "", f"{machine()}; median of {args.runs} runs; the sdjobs figures are the whole CLI command"
             " (submit, run on a warm background runner, follow, summary).", "",
             "| command | median (s) | entries/s | files/s | vs floor |", "|---|---:|---:|---:|---:|"]
    for name, t in med.items():
        ratio = f"{t / base:.2f}x" if base else "n/a"
        lines.append(f"| `{name}` | {t:.2f} | {entries / t:,.0f} | {files / t:,.0f} | {ratio} |")
    first_c, again_c = med["sdjobs index --mode content"], med["sdjobs index (content, unchanged, again)"]
    first_s, again_s = med["sdjobs index --mode shallow"], med["sdjobs index --mode shallow (unchanged, again)"]
    lines += ["", "| target | measured | met |", "|---|---:|:---:|"]
    if base:
        lines.append(f"| shallow within 2x of the floor | {first_s / base:.2f}x | {'yes' if first_s <= 2 * base else 'no'} |")
    lines += [
        f"| content mode >= 20,000 files/s | {files / first_c:,.0f} files/s | {'yes' if files / first_c >= 20000 else 'no'} |",
        f"| unchanged re-index <= 1/3 of the first run (content) | {again_c / first_c:.2f} | "
        f"{'yes' if again_c <= first_c / 3 else 'no'} |",
        f"| unchanged re-index vs first run (shallow) | {again_s / first_s:.2f} | (no target) |",
        f"| peak RSS, shallow / content | {rss['shallow']:.0f} MB / {rss['content']:.0f} MB | "
        f"{'yes' if max(rss.values()) < 200 else 'no'} |",
        f"| more than 10x Spacedrive's 4,200 files/s (discovery + processing, shallow) | "
        f"{entries / first_s:,.0f} entries/s | {'yes' if entries / first_s > 42000 else 'no'} |",
    ]
    load = os.getloadavg()
    lines += ["", f"Load average when done: {load[0]:.1f} (the machine is shared; figures vary run to run)."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    subprocess.run(sd + ["runner", "stop"], capture_output=True)


if __name__ == "__main__":
    main()
