"""dupes --indexed --all-hosts: duplicates across hosts from the index alone, end to end.

    python bench/bench_dupes_hosts.py [--files 200000] [--runs 3]

Writes an index (no files on disk: the answer comes from the index alone) of two hosts'
locations, ``--files`` files each, sizes spread over 20,000 values (so every file shares
its size with others); half the files of each host have a content id the other host has
too, the rest one of their own. Times ``sdjobs dupes --indexed --all-hosts --json`` with a
runner already started (median of ``--runs``), and checks the number of groups.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(lib: Path, files: int) -> None:
    from sdjobs.store import index_store as ixs
    from sdjobs.store.api import Store
    from sdjobs.store.library import Library

    store = Store(Library(lib))
    try:
        for n, host in enumerate(("a", "b")):
            os.environ["SDJOBS_HOST"] = host
            loc = ixs.create_location(store, "/data", rules={}, mode="content", max_depth=None, recurse=True,
                                      now=0.0)
            values: list = []
            for i in range(files):
                p = b"/data/d%03d/f%07d" % (i % 500, i)
                values += (p, p.rsplit(b"/", 1)[1], "file", 1000 + i % 20_000, 10 + i, 7 + n, 0o100644, 10**18 + i)
            with store._transaction():
                ixs.write_entries(store, loc, values)
                store._sql("UPDATE entry SET cas_id = printf('%016x', CASE WHEN inode - 10 < ? THEN inode"
                           " ELSE inode + ? END) WHERE location_id=?", (files // 2, 10**9 * (n + 1), loc))
            ixs.update_location(store, loc, indexed_at=time.time(), entries=files)
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "lib" / "library.db"
        env = {**os.environ, "SDJOBS_LIBRARY": str(lib), "SDJOBS_HOST": "a", "SDJOBS_RUNNER_IDLE_EXIT": "60"}
        os.environ.update(SDJOBS_LIBRARY=str(lib))
        t = time.perf_counter()
        build(lib, args.files)
        print(f"index of 2 hosts x {args.files:,} files written in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        cmd = [sys.executable, "-m", "sdjobs", "dupes", "--indexed", "--all-hosts", "--json"]
        times = []
        try:
            for run in range(args.runs + 1):  # the first starts the runner: not timed
                t = time.perf_counter()
                out = subprocess.run(cmd, env=env, capture_output=True, check=True).stdout
                if run:
                    times.append(time.perf_counter() - t)
            groups = out.count(b'"paths":')
        finally:
            subprocess.run([sys.executable, "-m", "sdjobs", "runner", "stop"], env=env, capture_output=True)
        assert groups == args.files // 2, groups
        print(f"| 2 hosts x {args.files:,} indexed files | {groups:,} groups | median {statistics.median(times):.2f} s"
              f" | best {min(times):.2f} s |")


if __name__ == "__main__":
    main()
