"""Move benchmark: `sdjobs copy --move` against GNU `mv` from tmpfs to the disk (another filesystem).

    python bench/bench_move.py [--runs 5] [--save]

Across filesystems `mv` copies, then removes the sources, and syncs nothing: a power loss may
lose both. sdjobs makes each copy durable before its source goes (a syncfs of the destination's
filesystem for each batch of small files, a fsync of what its own thread copies) and verifies
what it copied. The source tree is made again before each run (not timed), on /dev/shm; the
destination is under $SDJOBS_BENCH_DIR, which must be on another filesystem. The cases run
interleaved, round by round, with a runner alive.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
from pathlib import Path

from common import BENCH_DIR, SDJOBS, drop_runner, machine, rm, table, timed, wait_served


def make_tree(root: Path, files: int, links: int) -> None:
    rng = random.Random(3)
    rm(root)
    root.mkdir(parents=True)
    dirs = [root]
    for i in range(40):
        d = rng.choice(dirs) / f"d{i}"
        d.mkdir()
        dirs.append(d)
    for i in range(files):
        (rng.choice(dirs) / f"f{i}").write_bytes(rng.randbytes(rng.randrange(1, 4000)))
    for i in range(links):
        os.symlink(f"f{i % files}", rng.choice(dirs) / f"l{i}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--links", type=int, default=5000)
    ap.add_argument("--save", action="store_true", help="write the table to bench/results/move.md")
    args = ap.parse_args()
    src = Path("/dev/shm") / f"sdjobs-bench-move-{os.getpid()}" / "src"
    dst = BENCH_DIR / "move-dst"
    if os.stat("/dev/shm").st_dev == os.stat(BENCH_DIR).st_dev:
        raise SystemExit(f"{BENCH_DIR} is on /dev/shm's filesystem: set $SDJOBS_BENCH_DIR to a folder on the disk")
    lib = BENCH_DIR / "move-lib" / "library.db"
    env = {**os.environ, "SDJOBS_LIBRARY": str(lib)}

    def fresh() -> None:
        rm(dst)
        make_tree(src, args.files, args.links)
        subprocess.run(["sync"])

    cases = [("mv", ["mv", str(src), str(dst)], None),
             ("sdjobs copy --move", SDJOBS + ["copy", "--move", str(src), str(dst)], env)]
    subprocess.Popen(SDJOBS + ["--library", str(lib), "runner"], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_served(lib)
    times: dict[str, list[float]] = {name: [] for name, *_ in cases}
    try:
        for _ in range(args.runs):
            for name, cmd, case_env in cases:
                times[name] += timed(cmd, before=fresh, env=case_env, runs=1)
                if src.exists() and any(src.iterdir()):
                    raise SystemExit(f"{name} left files at the source")
    finally:
        drop_runner(lib)
        rm(dst)
        rm(src.parent)
    note = (f"Tree: {args.files:,} files of 1-4,000 bytes and {args.links:,} symlinks in 41 directories, from"
            f" /dev/shm (tmpfs) to {BENCH_DIR} ({_fs_type(BENCH_DIR)}); {machine()}.")
    out = table("move", [(name, times[name]) for name, *_ in cases], "mv", note)
    print(out)
    if args.save:
        (Path(__file__).parent / "results" / "move.md").write_text(out)


def _fs_type(path: Path) -> str:
    return subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", str(path)], capture_output=True,
                          text=True).stdout.strip()


if __name__ == "__main__":
    main()
