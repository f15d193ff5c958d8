"""Measure sdjobs.fs.walker throughput on a generated tree.

    python bench/bench_walk.py [TREE_DIR]

Builds (once) 10 x 20 x 10 directories of 100 empty files each, 200,000
files plus 2,210 directories, under TREE_DIR (default: a directory in the
system temp dir that is kept for reuse), then walks it with several rule
sets and prints entries per second (best of three warm runs), entry by entry
(``walk``) and in segments (``walk_segments``, what the indexer uses).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from sdjobs.fs.rules import WalkRules
from sdjobs.fs.walker import walk, walk_segments


def build(root: str) -> None:
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker):
        return
    for a in range(10):
        for b in range(20):
            for c in range(10):
                d = os.path.join(root, f"a{a}", f"b{b}", f"c{c}")
                os.makedirs(d, exist_ok=True)
                for f in range(100):
                    os.close(os.open(os.path.join(d, f"file_{f:04d}.txt"), os.O_CREAT | os.O_WRONLY, 0o644))
    with open(os.path.join(root, ".gitignore"), "w") as f:
        f.write("*.log\n/build/\nnode_modules/\n*.tmp\n!keep.tmp\ndocs/**/*.pdf\n[Tt]humbs*\n.env\n")
    with open(os.path.join(root, "a1", ".gitignore"), "w") as f:
        f.write("*.o\n")
    open(marker, "w").close()


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "sdjobs-bench-tree")
    os.makedirs(root, exist_ok=True)
    build(root)
    cases = {
        "no rules": WalkRules(skip_system=False, skip_git=False, gitignore=False),
        "defaults (+2 .gitignore)": WalkRules(),
        "everything on": WalkRules(skip_hidden=True, skip_deps=True),
    }
    ways = {
        "walk": lambda rules: sum(1 for _ in walk(root, rules)),
        "walk_segments": lambda rules: sum(len(s.values) for s in walk_segments(root, rules)) // 8,
    }
    for label, rules in cases.items():
        for way, count_entries in ways.items():
            best, count = float("inf"), 0
            for _ in range(3):
                start = time.perf_counter()
                count = count_entries(rules)
                best = min(best, time.perf_counter() - start)
            print(f"{label:26s} {way:14s} {count:7d} entries  {best:6.3f}s  {count / best:10,.0f} entries/s")


if __name__ == "__main__":
    main()
