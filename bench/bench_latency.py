"""The fixed cost of a served job command: a one-file copy and a one-file dupes, runner alive.

    python bench/bench_latency.py [--runs 9] [--against /work/main] [--save]

A runner is started on a library of its own and left idle until its command server answers
(``common.wait_served``); then, in interleaved rounds, ``cp -a`` of a one-file tree, ``sdjobs copy``
of it and ``sdjobs dupes`` of it run one after the other. With ``--against DIR`` the sdjobs code of
that checkout runs too, in the same rounds, with its own runner and library (an A/B of two
commits on a loaded machine: compare the medians, and the CPU seconds more than the walls).

Each sdjobs run is split by the job's own timestamps (its record and lifecycle events), so that
the table says where the time goes:

- submit: from the command's start to the job's row committed (client start, hand-over to the
  command server, parsing, planning, the INSERT);
- claim: to the runner's claim (how soon the runner notices the new job);
- job process: to the ``claimed`` event (the fork, the library opened, the pid recorded);
- to work: to the first phase's start (the job made, its checkpoint read);
- work: the phases (for one file: little but fixed costs, a pool if one is started);
- end: from the last phase's end to the job's end committed;
- notice + exit: to the command's exit (the command noticing, printing, exiting).

CPU is user+system seconds of the runner's process tree (runner, command server and their
reaped children: job processes, pool workers, served commands) plus the client's own, and
split by process: the runner itself (its idle looks included: IDLE_WAIT), its job processes
(with their workers), the command server, the served commands (its forks), the client.
``--save`` writes bench/results/latency.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import BENCH_DIR, SDJOBS, install, machine, rm, tree_cpu, wait_served  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
PARTS = ["submit", "claim", "job process", "to work", "work", "end", "notice + exit"]
CPU_PARTS = ["runner", "job processes", "server", "served", "client"]


class Code:
    """One sdjobs (this checkout, or the one compared), with its runner and library."""

    def __init__(self, name: str, cmd: list[str], root: Path) -> None:
        self.name, self.cmd, self.root = name, cmd, root
        rm(root)
        (root / "lib").mkdir(parents=True)
        self.env = {**os.environ, "SDJOBS_LIBRARY": str(root / "lib" / "library.db"),
                    "XDG_DATA_HOME": str(root / "xdg"), "SDJOBS_RUNNER_IDLE_EXIT": "600"}
        self.runner: subprocess.Popen | None = None
        self.rows: dict[str, list[dict]] = {"copy": [], "dupes": []}

    def start(self) -> None:
        self.runner = subprocess.Popen(self.cmd + ["runner"], env=self.env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(100):
            status = subprocess.run(self.cmd + ["runner", "status"], env=self.env, capture_output=True, text=True)
            if "alive" in status.stdout:
                break
            time.sleep(0.1)
        wait_served(Path(self.env["SDJOBS_LIBRARY"]))

    def stop(self) -> None:
        subprocess.run(self.cmd + ["runner", "stop"], env=self.env, capture_output=True)
        if self.runner is not None:
            self.runner.wait(30)

    def one(self, kind: str, src: Path, n: int) -> dict:
        dst = self.root / f"dst{n}"
        args = ["copy", str(src), str(dst), "--json"] if kind == "copy" else ["dupes", str(src), "--json"]
        assert self.runner is not None
        server = _server_of(self.runner.pid)
        cpu0, kids0 = tree_cpu(self.runner.pid), _children_cpu()
        split0 = _split_cpu(self.runner.pid, server)
        t0 = time.time()
        out = subprocess.run(self.cmd + args, env=self.env, capture_output=True, check=True)
        t1 = time.time()
        time.sleep(0.3)  # the job process and its workers are reaped
        cpu = tree_cpu(self.runner.pid) - cpu0 + _children_cpu() - kids0
        split = [b - a for a, b in zip(split0, _split_cpu(self.runner.pid, server), strict=True)]
        data = json.loads(out.stdout)
        job = data.get("job", data.get("id"))
        row = {"wall": t1 - t0, "cpu": cpu, **dict(zip(CPU_PARTS, split, strict=True)),
               **split_wall(self.cmd, self.env, job, t0, t1)}
        rm(dst)
        return row


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _own_and_reaped(pid: int | None) -> tuple[float, float]:
    """(its own CPU seconds, those of its reaped children)."""
    if pid is None:
        return 0.0, 0.0
    try:
        text = open(f"/proc/{pid}/stat").read()
    except OSError:
        return 0.0, 0.0
    f = [int(x) for x in text[text.rfind(")") + 2:].split()[11:15]]
    return (f[0] + f[1]) / HZ, (f[2] + f[3]) / HZ


def _server_of(runner: int) -> int | None:
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = open(f"/proc/{p}/stat").read()
                cmd = open(f"/proc/{p}/cmdline", "rb").read()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2:].split()[1]) == runner and b"sdjobs.cli.server" in cmd:
                return int(p)
    return None


def _split_cpu(runner: int, server: int | None) -> list[float]:
    own, reaped = _own_and_reaped(runner)
    s_own, s_reaped = _own_and_reaped(server)
    return [own, reaped, s_own, s_reaped, _children_cpu()]


def split_wall(cmd: list[str], env: dict, job: int, t0: float, t1: float) -> dict:
    """The parts of one run, from the job's record and lifecycle events."""
    rec = json.loads(subprocess.run(cmd + ["jobs", "show", str(job), "--json"], env=env, capture_output=True,
                                    check=True).stdout)
    logs = subprocess.run(cmd + ["jobs", "logs", str(job), "--json"], env=env, capture_output=True, text=True,
                          check=True).stdout
    events = [json.loads(line) for line in logs.splitlines() if line.strip()]
    claimed = next(e["ts"] for e in events if e["kind"] == "claimed")
    starts = [e["ts"] for e in events if e["kind"] == "phase-start"]
    ends = [e["ts"] for e in events if e["kind"] == "phase-end"]
    first = starts[0] if starts else claimed
    last = max(ends) if ends else first
    marks = [t0, rec["created_at"], rec["started_at"], claimed, first, last, rec["finished_at"], t1]
    return dict(zip(PARTS, (b - a for a, b in zip(marks, marks[1:], strict=False)), strict=True))


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(codes: list[Code], cp: list[float], runs: int) -> str:
    cp_med = statistics.median(cp)
    out = [f"served one-file commands, runner alive and its command server up; median of {runs} interleaved"
           f" rounds ({machine()})", "",
           "| command | code | wall s | best s | vs cp -a | CPU s (runner tree + client) |",
           "|---|---|---:|---:|---:|---:|",
           f"| cp -a | | {cp_med:.3f} | {min(cp):.3f} | 1.00x | |"]
    for kind in ("copy", "dupes"):
        for c in codes:
            rows = c.rows[kind]
            out.append(f"| sdjobs {kind} | {c.name} | {median(rows, 'wall'):.3f} | {min(r['wall'] for r in rows):.3f}"
                       f" | {median(rows, 'wall') / cp_med:.1f}x | {median(rows, 'cpu'):.3f} |")
    out += ["", "Where the wall time goes (median of each part, ms; the parts' medians need not add up to the"
            " median wall):", "",
            "| command | code | " + " | ".join(PARTS) + " |", "|---|---|" + "---:|" * len(PARTS)]
    for kind in ("copy", "dupes"):
        for c in codes:
            rows = c.rows[kind]
            out.append(f"| {kind} | {c.name} | " + " | ".join(f"{median(rows, p) * 1000:.0f}" for p in PARTS) + " |")
    out += ["", "CPU by process (mean ms per command; clock ticks of 10 ms, averaged over the rounds; the runner's"
            " includes its idle looks while the command ran and the 0.3 s after it):", "",
            "| command | code | " + " | ".join(CPU_PARTS) + " |", "|---|---|" + "---:|" * len(CPU_PARTS)]
    for kind in ("copy", "dupes"):
        for c in codes:
            rows = c.rows[kind]
            out.append(f"| {kind} | {c.name} | "
                       + " | ".join(f"{statistics.mean(r[p] for r in rows) * 1000:.1f}" for p in CPU_PARTS) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--against", type=Path, help="another checkout whose sdjobs runs in the same rounds")
    ap.add_argument("--save", action="store_true", help="write bench/results/latency.md")
    args = ap.parse_args(argv)

    base = BENCH_DIR / "latency"
    src = base / "src"
    rm(src)
    src.mkdir(parents=True)
    (src / "a").write_text("hi\n")
    codes = [Code("this", SDJOBS, base / "this")]
    if args.against:
        codes.append(Code(args.against.name, install(args.against.resolve(), base / "venv-against"),
                          base / "against"))
    cp: list[float] = []
    try:
        for c in codes:
            c.start()
            for kind in ("copy", "dupes"):  # a warm-up: the first job of a runner imports its modules
                c.one(kind, src, 0)
        for n in range(1, args.runs + 1):
            dst = base / "cp-dst"
            t = time.perf_counter()
            subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
            cp.append(time.perf_counter() - t)
            rm(dst)
            for kind in ("copy", "dupes"):
                for c in (codes if n % 2 else codes[::-1]):
                    c.rows[kind].append(c.one(kind, src, n))
    finally:
        for c in codes:
            c.stop()
    text = report(codes, cp, args.runs)
    print(text)
    if args.save:
        (HERE / "results" / "latency.md").write_text("### latency: a served one-file job\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
