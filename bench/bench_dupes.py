"""dupes against jdupes, rdfind and fdupes, end to end, warm cache.

    python bench/bench_dupes.py [--root $SDJOBS_BENCH_DIR] [--runs 5] [--trees mixed,small,lognormal]

Generates (once) the trees of bench/dupes_data.py: ``mixed`` (~20,000
files of 1 KiB-1 MiB plus four of 64-128 MiB), ``small`` (~200,000 files
of 64 B-8 KiB, 127 distinct sizes, so nearly every file shares its size
with a thousand others) and ``lognormal`` (200,000 files of log-normal
sizes, ~3 GB, as photo libraries and source trees have them). Each case is the wall time of the whole command,
median of ``--runs`` runs, cases interleaved run by run, each run followed by an untimed rest (``common.REST``):

- ``sdjobs dupes PATH --json --no-index``: a runner already started;
- ``... cold``: no runner alive, the command starts one (then it is stopped);
- ``sdjobs dupes PATH --json`` after ``sdjobs index PATH --full-hash``: the
  indexed, unchanged tree (small tree only). The warm-up run keeps the groups
  of stored hashes (``jobs/dupes/cache.py``), so the timed runs re-use them
  and only check the tree; ``... first run after the index`` re-indexes
  (untimed) before each run, which drops them: the groups are worked out.

The groups are checked against ``jdupes -r`` (hard links aside: compared as
sets of inodes), and the bytes sdjobs read are put beside the bytes any tool
must read (every distinct file of every duplicate group, once). The last
column is the wall time over jdupes -r's: 0.50x is twice as fast. Prints a markdown table; --save writes it to bench/results/dupes.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import dupes_data  # noqa: E402
from common import BENCH_DIR, REST, SDJOBS, cached_share, cpu_check, wait_served  # noqa: E402  (SDJOBS: as `pip install .` leaves it)


def env(root: Path) -> dict:
    return {**os.environ, "SDJOBS_LIBRARY": str(root / "lib" / "library.db"),
            "XDG_DATA_HOME": str(root / "xdg"), "SDJOBS_RUNNER_IDLE_EXIT": "600"}


def run(cmd: list, e: dict, out=subprocess.DEVNULL) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=e, stdout=out, stderr=subprocess.DEVNULL, check=True)
    took = time.perf_counter() - t
    time.sleep(REST)  # (see common.REST)
    return took


def stop_runner(e: dict) -> None:
    subprocess.run(SDJOBS + ["runner", "stop"], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_runner(e: dict) -> subprocess.Popen:
    p = subprocess.Popen(SDJOBS + ["runner"], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    for _ in range(100):
        if "alive" in subprocess.run(SDJOBS + ["runner", "status"], env=e, capture_output=True, text=True).stdout:
            break
        time.sleep(0.1)
    wait_served(Path(e["SDJOBS_LIBRARY"]))
    return p


def inode_groups(groups) -> set:
    out = set()
    for g in groups:
        key = []
        for p in g:
            st = os.lstat(p)
            key.append((st.st_dev, st.st_ino))
        out.add(frozenset(key))
    return out


def fdupes_groups(text: bytes) -> list[list[bytes]]:
    return [b.split(b"\n") for b in text.strip(b"\n").split(b"\n\n") if b]


def must_read(groups) -> tuple[int, list[str]]:
    """The bytes any tool must read: every distinct file (inode) of every group, once; and one
    path of each of those files."""
    files: dict[tuple[int, int], tuple[str, int]] = {}
    for g in groups:
        for p in g:
            st = os.lstat(p)
            files.setdefault((st.st_dev, st.st_ino), (os.fsdecode(p), st.st_size))
    return sum(size for _, size in files.values()), [path for path, _ in files.values()]


def check_same(tree: Path, e: dict, indexed: bool) -> tuple[str, list[str]]:
    """What sdjobs found against jdupes -r, as a note; and the files of jdupes' groups."""
    jd = fdupes_groups(subprocess.run(["jdupes", "-r", "-q", str(tree)], capture_output=True, check=True).stdout)
    theirs = inode_groups(jd)
    out = []
    for how in (["--no-index"], []) if indexed else (["--no-index"],):
        ours = json.loads(subprocess.run(SDJOBS + ["dupes", str(tree), "--json", *how], env=e,
                                         capture_output=True, check=True).stdout)
        same = inode_groups(g["paths"] for g in ours["groups"]) == theirs
        read = ours.get("summary", {}).get("read_bytes")
        out.append(f"{len(ours['groups']):,} groups{' (from the index)' if not how else ''},"
                   f" {'same' if same else 'NOT the same'} as jdupes -r"
                   + (f", {read / 1e6:,.1f} MB read" if read is not None else ""))
    nbytes, files = must_read(jd)
    note = "; ".join(out) + f"; must-read bytes (every file of every group, once): {nbytes / 1e6:,.1f} MB"
    return note, files


def bench_tree(name: str, tree: Path, root: Path, runs: int, indexed: bool) -> tuple[list[tuple], str]:
    e = env(root)
    peers = {
        "jdupes -r": ["jdupes", "-r", "-q", str(tree)],
        "rdfind": ["rdfind", "-dryrun", "true", "-outputname", str(root / "rdfind.txt"), str(tree)],
        "fdupes -r": ["fdupes", "-r", "-q", str(tree)],
    }
    cases = {k: v for k, v in peers.items() if shutil.which(v[0])}
    missing = [k for k in peers if k not in cases]
    ours = SDJOBS + ["dupes", str(tree), "--json", "--no-index"]
    cases["sdjobs dupes (runner started)"] = ours
    cases["sdjobs dupes (cold: starts a runner)"] = ours
    reindex = SDJOBS + ["index", str(tree), "--full-hash"]
    before: dict[str, list] = {}
    if indexed:
        cases["sdjobs dupes, indexed unchanged tree"] = SDJOBS + ["dupes", str(tree), "--json"]
        cases["sdjobs dupes, indexed, first run after the index"] = SDJOBS + ["dupes", str(tree), "--json"]
        before["sdjobs dupes, indexed, first run after the index"] = reindex
    times: dict[str, list[float]] = {k: [] for k in cases}
    stop_runner(e)
    if indexed:
        run(reindex, e)
    runner = start_runner(e)
    try:
        note, must = check_same(tree, e, indexed) if shutil.which("jdupes") else ("jdupes missing: groups not compared", [])
        for cmd in cases.values():  # warm the page cache and the runner
            run(cmd, e)
        for _ in range(runs):
            for label, cmd in cases.items():
                if "cold" in label:
                    stop_runner(e)
                    times[label].append(run(cmd, e))
                    runner = start_runner(e)
                else:
                    if label in before:
                        run(before[label], e)
                    times[label].append(run(cmd, e))
        share = cached_share(must)
        if share is not None:
            note += f"; {share:.0%} of the must-read bytes in the page cache after the runs"
    finally:
        stop_runner(e)
        if runner.poll() is None:
            runner.wait(30)
    med = {k: statistics.median(v) for k, v in times.items()}
    jdupes = med.get("jdupes -r")
    rows = []
    for label in cases:
        ratio = f"{med[label] / jdupes:.2f}x" if jdupes else ""
        rows.append((name, label, med[label], min(times[label]), ratio))
    if missing:
        note += f"; not installed, skipped: {', '.join(missing)}"
    return rows, note


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(BENCH_DIR), help="default: $SDJOBS_BENCH_DIR or /tmp/sdjobs-bench")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--trees", default="mixed,small,lognormal")
    ap.add_argument("--save", action="store_true", help="write the table to bench/results/dupes.md")
    a = ap.parse_args(argv)
    root = Path(a.root)
    root.mkdir(parents=True, exist_ok=True)
    all_rows, notes = [], []
    for name in a.trees.split(","):
        tree = root / name
        if not tree.exists():
            print(f"generating {tree} ...", file=sys.stderr)
            getattr(dupes_data, name)(str(tree))
        rows, note = bench_tree(name, tree, root, a.runs, indexed=name == "small")
        all_rows += rows
        notes.append(f"- {name}: {note}")
    load = os.getloadavg()[0]
    lines = [f"dupes, wall time of the whole command, median of {a.runs} runs (warm cache, {os.cpu_count()} cores,"
             f" load average {load:.1f} at the end; {cpu_check()})", "",
             "| tree | command | median s | best s | time / jdupes -r |", "|---|---|---:|---:|---:|"]
    lines += [f"| {t} | {c} | {m:.2f} | {b:.2f} | {r} |" for t, c, m, b, r in all_rows]
    lines += ["", *notes]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.save:
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / "dupes.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
