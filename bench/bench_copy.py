"""Copy benchmark: sdjobs copy vs cp -a and rsync -a on a generated tree; and `jobs ls` with 10,000 jobs.

    python bench/bench_copy.py [--runs 5] [--small 20000] [--save]
    python bench/bench_copy.py --cpu [--runs 7] [--verify]

Warm cache; the cases run interleaved, round by round (each round: cp -a, rsync -a, sdjobs with no runner
alive, with a runner alive, with --verify), and each row is the median of its runs.

``--cpu`` measures CPU instead of wall time, which a loaded machine moves far less: user and
system seconds per copy of the whole runner tree (the runner, its command server, the job
process and its pool, reaped children included) against those of ``cp -a``, with a runner
alive; the medians of ``--runs`` interleaved rounds. See "Where the time goes" in
bench/results/copy.md for what it found.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import time
from pathlib import Path

from common import BENCH_DIR, SDJOBS, drop_runner, have, machine, rm, table, timed, wait_served


def make_tree(root: Path, small: int, big_mb: list[int]) -> None:
    stamp = root / ".complete"
    if stamp.exists() and stamp.read_text() == f"{small} {big_mb}":
        return
    rm(root)
    rng = random.Random(42)
    for i in range(small):
        d = root / f"dir{i // 100:03}"
        if i % 100 == 0:
            d.mkdir(parents=True)
        (d / f"file{i:05}.dat").write_bytes(rng.randbytes(rng.randint(512, 16384)))
    for n, mb in enumerate(big_mb):
        with open(root / f"large{n}.bin", "wb") as f:
            for _ in range(mb):
                f.write(rng.randbytes(1024 * 1024))
    stamp.write_text(f"{small} {big_mb}")


def jobs_ls_bench(runs: int) -> list[float]:
    lib = BENCH_DIR / "ls-lib" / "library.db"
    if not lib.exists():
        from sdjobs.core import codec
        from sdjobs.store.api import Store
        from sdjobs.store.library import Library

        store = Store(Library(lib))
        now = time.time()
        rows = [("copy", 1, "completed", 0, codec.pack({"sources": [f"/src/{i}"], "dest": "/dst"}), now - i, now - i,
                 now - i + 1, codec.pack({"argv": ["sdjobs", "copy", f"/src/{i}", "/dst"]}),
                 codec.pack({"files": i, "bytes": i * 1000, "dirs": 1, "links": 0}))
                for i in range(10_000)]
        with store._transaction():
            store._db.cursor().executemany(
                "INSERT INTO job (type, type_version, status, priority, config, created_at, updated_at, finished_at,"
                " context, output) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        store.close()
    drop_runner(lib)
    alone = timed(SDJOBS + ["--library", str(lib), "jobs", "ls"], runs=runs)
    subprocess.Popen(SDJOBS + ["--library", str(lib), "runner"], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_served(lib)
    served = timed(SDJOBS + ["--library", str(lib), "jobs", "ls"], runs=runs)
    drop_runner(lib)
    return alone, served


def tree_cpu(pid: int) -> tuple[float, float]:
    """User and system seconds of process ``pid`` and of its children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[13])) / tick, (int(fields[12]) + int(fields[14])) / tick


def cpu_bench(src: Path, dst: Path, runs: int, verify: bool) -> str:
    """CPU per copy: the runner tree's (user, sys) against cp -a's, in interleaved rounds."""
    lib = BENCH_DIR / "copy-cpu-lib" / "library.db"
    drop_runner(lib)
    rm(lib.parent)
    lib.parent.mkdir(parents=True)
    env = {**os.environ, "SDJOBS_LIBRARY": str(lib)}
    runner = subprocess.Popen(SDJOBS + ["--library", str(lib), "runner"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_served(lib)
    copy = SDJOBS + ["copy", *(["--verify"] if verify else []), str(src), str(dst)]
    rm(dst)
    subprocess.run(copy, env=env, check=True, stdout=subprocess.DEVNULL)  # warm
    sd: list[tuple[float, float]] = []
    cp: list[tuple[float, float]] = []
    for _ in range(runs):
        rm(dst)
        before = tree_cpu(runner.pid)
        subprocess.run(copy, env=env, check=True, stdout=subprocess.DEVNULL)
        time.sleep(0.3)  # (the job process is reaped by the runner after the command returns)
        after = tree_cpu(runner.pid)
        sd.append((after[0] - before[0], after[1] - before[1]))
        rm(dst)
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cp.append((r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime))
    drop_runner(lib)
    runner.wait(60)
    rm(dst)

    def row(name: str, xs: list[tuple[float, float]]) -> str:
        user, sys_ = statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs)
        total = statistics.median(x[0] + x[1] for x in xs)
        return f"| `{name}` | {user:.2f} | {sys_:.2f} | {total:.2f} |"

    name = "sdjobs copy" + (" --verify" if verify else "") + " (runner tree)"
    return "\n".join(["### copy CPU", "", "| command | user (s) | sys (s) | user+sys (s) |", "|---|---:|---:|---:|",
                      row("cp -a", cp), row(name, sd), "",
                      f"Medians of {runs} interleaved rounds, warm cache; {machine()}."]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--save", action="store_true", help="write the tables to bench/results/copy.md")
    ap.add_argument("--small", type=int, default=20_000)
    ap.add_argument("--big", default="64,96,128", help="sizes in MB of the large files")
    ap.add_argument("--cpu", action="store_true", help="CPU per copy of the runner tree vs cp -a (see above)")
    ap.add_argument("--verify", action="store_true", help="with --cpu: copy --verify")
    args = ap.parse_args()
    src = BENCH_DIR / "copy-src"
    dst = BENCH_DIR / "copy-dst"
    lib = BENCH_DIR / "copy-lib" / "library.db"
    big = [int(x) for x in args.big.split(",") if x]
    make_tree(src, args.small, big)
    total = sum(f.stat().st_size for f in src.rglob("*") if f.is_file())
    subprocess.run(["cat"] + [str(p) for p in src.glob("large*")], stdout=subprocess.DEVNULL)
    if args.cpu:
        print(cpu_bench(src, BENCH_DIR / "copy-cpu-dst", args.runs, args.verify))
        return

    def clean():
        rm(dst)
        subprocess.run(["sync"])

    # The cases run round by round (interleaved), so that the machine's drift moves them all alike.
    # The cold case has a library of its own, its runner stopped before each run (issue 19: within
    # 1.1x of cp -a); the warm cases share a runner started once, its command server answering.
    cold_lib = lib.with_name("cold-library.db")
    warm_env = {**os.environ, "SDJOBS_LIBRARY": str(lib)}
    cold_env = {**os.environ, "SDJOBS_LIBRARY": str(cold_lib)}
    sd = "sdjobs copy"
    cases: list[tuple[str, list[str], dict | None, object]] = [("cp -a", ["cp", "-a", str(src), str(dst)], None, clean)]
    if have("rsync"):
        cases.append(("rsync -a", ["rsync", "-a", str(src) + "/", str(dst)], None, clean))
    cases += [(sd + " (runner auto-started)", SDJOBS + ["copy", str(src), str(dst)], cold_env,
               lambda: (clean(), drop_runner(cold_lib))),
              (sd + " (runner running)", SDJOBS + ["copy", str(src), str(dst)], warm_env, clean),
              (sd + " --verify", SDJOBS + ["copy", "--verify", str(src), str(dst)], warm_env, clean)]
    subprocess.Popen(SDJOBS + ["--library", str(lib), "runner"], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_served(lib)
    times: dict[str, list[float]] = {name: [] for name, *_ in cases}
    for _ in range(args.runs):
        for name, cmd, env, before in cases:
            times[name] += timed(cmd, before=before, env=env, runs=1)
            if name.endswith("(runner auto-started)"):
                drop_runner(cold_lib)  # (not left to compete with the next cases)
    rows = [(name, times[name]) for name, *_ in cases]
    drop_runner(lib)
    clean()
    note = (f"Tree: {args.small:,} files of 0.5-16 kB in {args.small // 100} directories plus files of {args.big} MB"
            f" ({total / 1e6:,.0f} MB in all) under {BENCH_DIR}; warm cache; {machine()}.")
    out = table("copy", rows, "cp -a", note)
    alone, served = jobs_ls_bench(max(args.runs, 7))
    out += (f"\n### jobs ls\n\n`sdjobs jobs ls` with 10,000 jobs in the history (issue 19: under 0.1 s with no"
            f" runner alive), median of {len(alone)} runs: {statistics.median(served):.3f} s with a runner alive (the"
            f" command is served by its command server), {statistics.median(alone):.3f} s with no runner (the command"
            f" imports the CLI itself).\n")
    print(out)
    if args.save:
        (Path(__file__).parent / "results").mkdir(exist_ok=True)
        (Path(__file__).parent / "results" / "copy.md").write_text(out)


if __name__ == "__main__":
    main()
