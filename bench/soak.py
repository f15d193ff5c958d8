#!/usr/bin/env python3
"""Soak: random trials of every operation under every interruption, judged by oracles
that do not trust sdjobs (tests/torture). Runs until time is up, then prints a table.

    bench/soak.py --minutes 30                  random seeds (from --seed, or the clock)
    bench/soak.py --minutes 5 --ops copy,move_cross --faults kill_runner,stop_cont
    bench/soak.py --replay SEED [--ops OP --faults FAULT]   one trial again, its files kept

Exit 1 if anything was lost or corrupted (or any invariant failed with --strict).
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from torture import faults as F  # noqa: E402
from torture.run import OPS, run_trial  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--seed", type=int, help="master seed (default: the clock)")
    ap.add_argument("--ops", help=f"comma-separated, of: {','.join(OPS)}")
    ap.add_argument("--faults", help=f"comma-separated, of: {','.join(F.FAULTS)}")
    ap.add_argument("--size", choices=["small", "medium"], default="medium")
    ap.add_argument("--replay", type=int, metavar="SEED", help="run this one trial again and keep its files")
    ap.add_argument("--jobs", type=int, default=1, help="trials at once (each has its own library and runner)")
    ap.add_argument("--strict", action="store_true", help="exit 1 on any violated invariant, not only loss")
    a = ap.parse_args()
    ops = a.ops.split(",") if a.ops else None
    kinds = a.faults.split(",") if a.faults else None
    for name in ops or []:
        if name not in OPS:
            ap.error(f"unknown op {name!r}")
    for name in kinds or []:
        if name not in F.FAULTS:
            ap.error(f"unknown fault {name!r}")
    if a.replay is not None:
        r = run_trial(a.replay, ops[0] if ops else None, kinds[0] if kinds else None, size=a.size,
                      keep_failed=True)
        print(r.report())
        return 1 if r.lost or (a.strict and r.violations) else 0

    master = a.seed if a.seed is not None else int(time.time())
    rng = random.Random(master)
    print(f"soak: master seed {master}, {a.minutes:g} minutes, trees {a.size}", flush=True)
    end = time.monotonic() + a.minutes * 60
    results = []
    lock = threading.Lock()

    def worker() -> None:
        while time.monotonic() < end:
            with lock:
                seed = rng.randrange(1 << 31)
                op = rng.choice(ops) if ops else None
                fault = rng.choice(kinds) if kinds else None
            r = run_trial(seed, op, fault, size=a.size)
            with lock:
                results.append(r)
                mark = "skip" if r.skipped else ("ok" if not r.violations else ("LOST" if r.lost else "FAIL"))
                print(f"  [{len(results):4d}] {mark:4s} seed {seed:>10d} {r.op:16s} {r.fault:16s} "
                      f"{r.status or '-':22s} {r.seconds:5.1f}s", flush=True)
                for v in r.violations[:3]:
                    print(f"         - {v[:200]}", flush=True)

    threads = [threading.Thread(target=worker) for _ in range(max(1, a.jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print()
    print(table(results, master, a))
    return 1 if any(r.lost for r in results) or (a.strict and any(r.violations for r in results)) else 0


def table(results, master, a) -> str:
    ran = [r for r in results if not r.skipped]
    by_op = collections.Counter(r.op for r in ran)
    faults = collections.Counter(r.fault for r in ran if r.injected and r.fault != "none")
    missed = collections.Counter(r.fault for r in ran if not r.injected and r.fault != "none")
    survived = collections.Counter(r.fault for r in ran if r.injected and r.fault != "none" and not r.violations)
    lost = [r for r in ran if r.lost]
    failed = [r for r in ran if r.violations]
    lines = [f"Soak: {len(ran)} trials in {a.minutes:g} min (master seed {master}, {a.size} trees, "
             f"{a.jobs} at once)",
             "", "| operation | trials | clean |", "|---|---:|---:|"]
    for op in sorted(by_op):
        lines.append(f"| {op} | {by_op[op]} | {sum(1 for r in ran if r.op == op and not r.violations)} |")
    lines += ["", "| fault | injected | survived | not injected (job ended first) |", "|---|---:|---:|---:|"]
    for k in sorted(set(faults) | set(missed)):
        lines.append(f"| {k} | {faults[k]} | {survived[k]} | {missed[k]} |")
    lines += ["", f"Faults injected: {sum(faults.values())}; survived: {sum(survived.values())}; "
                  f"trials with a violated invariant: {len(failed)}; with files lost or corrupted: {len(lost)}"]
    skipped = [r for r in results if r.skipped]
    if skipped:
        lines.append(f"Skipped: {len(skipped)} ({skipped[0].skipped})")
    if failed:
        lines += ["", "Failing seeds:"]
        for r in failed:
            lines.append(f"- seed {r.seed} {r.op} + {r.fault}: {'; '.join(v[:120] for v in r.violations[:3])}  "
                         f"(replay: {r.replay()})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
