"""Where a dupes job's time goes, phase by phase, from its own log (no profiler in the way).

    python bench/profile_dupes.py [--root $SDJOBS_BENCH_DIR] [--trees mixed,small,lognormal] [--runs 3] [--strace]

For each tree of bench/dupes_data.py, with a runner already alive and no index, it runs
``sdjobs dupes TREE --no-index --json`` (a warm-up, then ``--runs`` times) and splits the wall
time of the median run with the lifecycle events of its log (``sdjobs jobs logs ID --json``):

- start-up: from the command's start to the job's first phase (submit, claim, job process);
- each phase: scan (the walk and one lstat per entry, over the workers), group (sizes, hard
  links), each reading pass, results (sorting, rendering and storing the groups);
- the end: from the last phase's end to the command's exit (the job's end recorded, the
  command noticing it and printing the groups).

It also gives the CPU seconds of the runner's whole process tree (job process and workers)
against the wall time, and of the job process and of each worker apart (polled from /proc), and with ``--strace`` the system calls of one more run per tree
(``strace -c -f`` on the runner): how many per file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import dupes_data  # noqa: E402
from bench_dupes import env, start_runner, stop_runner  # noqa: E402
from common import BENCH_DIR, SDJOBS, tree_cpu  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def _proc_cpu() -> dict[int, tuple[int, int]]:
    """(parent pid, CPU ticks of the process itself) of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                text = open(f"/proc/{p}/stat").read()
            except OSError:
                continue
            f = text[text.rfind(")") + 2:].split()
            out[int(p)] = (int(f[1]), int(f[11]) + int(f[12]))
    return out


class PerProcess:
    """CPU of each descendant of the runner during a run, polled every 20 ms (a process is
    seen until it exits; the last 20 ms of a process's life can be missed): the job process
    (the runner's child that forked the workers) apart from its children (the workers)."""

    def __init__(self, runner_pid: int) -> None:
        import threading

        self.runner, self.base, self.seen, self.tree = runner_pid, _proc_cpu(), {}, {}
        self.stop = False
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop:
            procs = _proc_cpu()
            kids: dict[int, list[int]] = {}
            for pid, (ppid, _) in procs.items():
                kids.setdefault(ppid, []).append(pid)
            stack = list(kids.get(self.runner, ()))
            while stack:
                pid = stack.pop()
                self.seen[pid] = procs[pid][1] - self.base.get(pid, (0, 0))[1]
                self.tree[pid] = procs[pid][0]
                stack += kids.get(pid, [])
            time.sleep(0.02)

    def finish(self) -> dict[str, float]:
        self.stop = True
        self.thread.join()
        parents = set(self.tree.values())
        jobs = [p for p, pp in self.tree.items() if pp == self.runner and p in parents]
        workers = sorted((self.seen[p] for p, pp in self.tree.items() if pp in jobs), reverse=True)
        out = {"job process": sum(self.seen[p] for p in jobs) / HZ}
        out.update({f"child {i + 1}": t / HZ for i, t in enumerate(workers) if t})
        return out


def one_run(tree: Path, e: dict, runner_pid: int) -> dict:
    cpu = tree_cpu(runner_pid)
    per = PerProcess(runner_pid)
    t0 = time.time()
    out = subprocess.run(SDJOBS + ["dupes", str(tree), "--no-index", "--json"], env=e, capture_output=True,
                         check=True)
    t1 = time.time()
    time.sleep(0.3)  # the job process is reaped
    procs = per.finish()
    job = json.loads(out.stdout)["job"]
    logs = subprocess.run(SDJOBS + ["jobs", "logs", str(job), "--json"], env=e, capture_output=True, text=True,
                          check=True).stdout
    events = [json.loads(line) for line in logs.splitlines() if line.strip()]
    phases, first = [], None
    for ev in events:
        if ev["kind"] == "phase-start":
            first = first or ev["ts"]
            phases.append([ev["fields"]["phase"], ev["ts"], None])
        elif ev["kind"] == "phase-end" and phases:
            phases[-1][2] = ev["ts"]
    last_end = max((p[2] or p[1] for p in phases), default=t0)
    parts = [("start-up (submit, claim, job process)", (first or t0) - t0)]
    parts += [(f"phase {name}", (end or last_end) - start) for name, start, end in phases]
    parts.append(("end (recorded, noticed, groups printed)", t1 - last_end))
    return {"wall": t1 - t0, "cpu": tree_cpu(runner_pid) - cpu, "parts": parts, "procs": procs,
            "summary": json.loads(out.stdout).get("summary", {})}


def strace_counts(tree: Path, e: dict, runner_pid: int) -> str:
    out = Path(e["XDG_DATA_HOME"]) / "strace.txt"
    out.parent.mkdir(parents=True, exist_ok=True)  # strace does not make it
    tracer = subprocess.Popen(["strace", "-c", "-f", "-o", str(out), "-p", str(runner_pid)],
                              stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    subprocess.run(SDJOBS + ["dupes", str(tree), "--no-index", "--json"], env=e, stdout=subprocess.DEVNULL,
                   check=True)
    time.sleep(0.5)
    tracer.terminate()
    tracer.wait(30)
    return out.read_text()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(BENCH_DIR))
    ap.add_argument("--trees", default="mixed,small,lognormal")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--strace", action="store_true")
    a = ap.parse_args(argv)
    root = Path(a.root)
    e = env(root)
    for name in a.trees.split(","):
        tree = root / name
        if not tree.exists():
            getattr(dupes_data, name)(str(tree))
        stop_runner(e)
        runner = start_runner(e)
        try:
            one_run(tree, e, runner.pid)  # warm: page cache, runner, pool
            runs = sorted((one_run(tree, e, runner.pid) for _ in range(a.runs)), key=lambda r: r["wall"])
            med = runs[len(runs) // 2]
            s = med["summary"]
            print(f"\n{name}: {s.get('scanned', 0):,} files scanned, {s.get('candidates', 0):,} candidates,"
                  f" {s.get('read_bytes', 0) / 1e6:,.1f} MB read, {s.get('groups', 0):,} groups;"
                  f" median of {a.runs}: {med['wall']:.2f} s wall, {med['cpu']:.2f} s CPU over the runner's"
                  f" processes ({med['cpu'] / med['wall']:.2f} cores busy on average)"
                  f" [walls: {', '.join(format(r['wall'], '.2f') for r in runs)}]\n")
            print("| part | s | share |\n|---|---:|---:|")
            for label, secs in med["parts"]:
                print(f"| {label} | {secs:.3f} | {secs / med['wall']:.0%} |")
            print("\nCPU per process (s), the same run: " + ", ".join(f"{k} {v:.2f}" for k, v in med["procs"].items()))
            if a.strace:
                print("\n```\n" + strace_counts(tree, e, runner.pid).strip() + "\n```")
        finally:
            stop_runner(e)
            if runner.poll() is None:
                runner.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
