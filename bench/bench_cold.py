"""Cold-start A/B: the first command with no runner alive, and the one right after it.

    python bench/bench_cold.py [--against /path/to/other/checkout] [--rounds 11] [--src DIR]

Each round stops the library's runner, then times ``sdjobs copy SRC DST`` (a one-file tree by default:
the fixed cost), then at once a second copy. Reported per checkout, interleaved round by round: the
wall time of each command, the CPU of its client process, and the CPU of the whole tree (client,
runner, command server, jobs: this process is their subreaper, and stops the runner after the round).
With ``--src``, each round also times ``cp -a SRC DST``, and the first command's median is given as
a multiple of cp -a's (issue 19: within 1.1x with no runner alive).
Every checkout is installed as `pip install .` would (bench/common.py), in its own venv.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import BENCH_DIR, ROOT, install, machine, rm

PR_SET_CHILD_SUBREAPER = 36


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd: list[str]) -> tuple[float, float]:
    """Wall and client CPU of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime


def _stop_and_reap() -> None:
    """SIGTERM the runners orphaned to us (the background runner a command started), reap all."""
    out = subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", "sdjobs.runner.background"],
                         capture_output=True, text=True).stdout.split()
    for pid in out:
        os.kill(int(pid), signal.SIGTERM)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def _clean(dst: Path) -> None:
    """No copy left, and none of its pages still to write back while the next one is timed."""
    rm(dst)
    subprocess.run(["sync"])


def round_of(sdjobs: list[str], lib: Path, src: Path, dst: Path) -> tuple[float, float, float, float, float]:
    """(first wall, first client CPU, next wall, next client CPU, tree CPU)."""
    subprocess.run([*sdjobs, "--library", str(lib), "runner", "stop"], capture_output=True)
    _stop_and_reap()
    _clean(dst)
    before = _children_cpu()
    first = _run([*sdjobs, "--library", str(lib), "copy", str(src), str(dst)])
    _clean(dst)
    nxt = _run([*sdjobs, "--library", str(lib), "copy", str(src), str(dst)])
    time.sleep(0.05)
    _stop_and_reap()
    return (*first, *nxt, _children_cpu() - before)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", type=Path, help="another checkout to compare with (e.g. main)")
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--src", type=Path, help="the tree to copy [default: one small file]")
    args = ap.parse_args()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    src = args.src
    if src is None:
        src = BENCH_DIR / "cold-src"
        src.mkdir(parents=True, exist_ok=True)
        (src / "a").write_text("x\n")
    sides = {"this": install(ROOT, BENCH_DIR / "venv-cold")}
    if args.against:
        sides["against"] = install(args.against.resolve(), BENCH_DIR / "venv-against")
    results: dict[str, list[tuple[float, ...]]] = {name: [] for name in sides}
    cp: list[float] = []
    for n in range(args.rounds):
        if args.src is not None:
            _clean(BENCH_DIR / "cold-dst-cp")
            cp.append(_run(["cp", "-a", str(src), str(BENCH_DIR / "cold-dst-cp")])[0])
        for name in (list(sides) if n % 2 == 0 else list(sides)[::-1]):
            lib = BENCH_DIR / f"cold-lib-{name}" / "library.db"
            results[name].append(round_of(sides[name], lib, src, BENCH_DIR / f"cold-dst-{name}"))
    print(f"### cold start\n\n`sdjobs copy {src}` with no runner alive, then at once again; median of {args.rounds}"
          f" interleaved rounds; {machine()}.\n")
    ref = statistics.median(cp) if cp else None
    print("| checkout | first (s) | its client CPU (s) | next (s) | its client CPU (s) | tree CPU (s) |"
          + (" first / cp -a | next / cp -a |" if ref else ""))
    print("|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if ref else ""))
    for name, rows in results.items():
        med = [statistics.median(col) for col in zip(*rows, strict=True)]
        where = ROOT if name == "this" else args.against
        print(f"| {where} | " + " | ".join(f"{v:.3f}" for v in med) + " |"
              + (f" {med[0] / ref:.2f}x | {med[2] / ref:.2f}x |" if ref else ""))
    if ref:
        print(f"\n`cp -a` of the same tree: median {ref:.3f} s.")
    rm(BENCH_DIR / "cold-dst-cp")


if __name__ == "__main__":
    sys.exit(main())
