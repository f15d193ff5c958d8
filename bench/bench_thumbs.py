"""End-to-end benchmark of `sdjobs thumbs` against vipsthumbnail.

    SDJOBS_BENCH_DIR=/dev/shm/sdjobs-bench python bench/bench_thumbs.py [--dir DIR] [--count 30] [--runs 5]

Generates ~30 photo-like JPEGs (bench/gen_images.py: 4000x3000 and
1920x1080, some with EXIF orientation) once, warms the page cache, then times
whole commands as a user runs them (CLI wall time, from exec to exit), every
case once per round, rounds interleaved so drift hits all cases alike; each
figure is the median of --runs rounds.

- vipsthumbnail: `vipsthumbnail -s 256 -o OUT/%s.webp FILES` (Debian's
  libvips-tools; -o into a scratch folder instead of next to the sources,
  same work).
- sdjobs, runner auto-started: a fresh library each round, no runner alive,
  so the time includes starting the background runner.
- sdjobs, runner running: a fresh library each round with `sdjobs runner`
  already started on it (what a user with a runner service sees).
- the same with --size 1024 alone and with three variants (256, 512, 1024).
- a re-run over the unchanged tree (nothing to render).
- a floor: the job's per-image worker over a fork Pool(2) in one plain Python
  process (no CLI, store or runner), i.e. what the rendering itself costs.

A second table splits the --size 256 runs into CLI start-up, claim, the job
itself and the CLI's exit, from the job record's timestamps.

CPU seconds are shown next to wall times (vipsthumbnail's and the floor's as
reaped children of this process, the job's with its workers from the running
runner's reaped-children counters): on a shared machine they move much less
than wall times do.

Prints a markdown table; --save writes it to bench/results/thumbs.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import SDJOBS, cpu_check, wait_served  # noqa: E402  (sdjobs as `pip install .` leaves it)

BENCH_DIR = Path(os.environ.get("SDJOBS_BENCH_DIR", tempfile.gettempdir()))


def children_cpu(pid: int | None = None) -> float:
    """CPU seconds of the reaped children of ``pid`` (of this process if None)."""
    if pid is None:
        import resource

        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime


def wait_reaped(pid: int, timeout: float = 2.0) -> None:
    """Until ``pid`` has no child processes left (a finished job's process is reaped)."""
    deadline = time.monotonic() + timeout
    path = Path(f"/proc/{pid}/task/{pid}/children")
    while time.monotonic() < deadline and path.exists() and path.read_text().strip():
        time.sleep(0.01)


def ensure_images(folder: Path, count: int) -> list[Path]:
    files = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if len(files) != count:
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([sys.executable, str(HERE / "gen_images.py"), str(folder), "--count", str(count)],
                       check=True, stderr=subprocess.DEVNULL)
        files = sorted(folder.glob("*.jpg"))
    for f in files:  # warm the page cache
        f.read_bytes()
    return files


def env_for(lib: Path) -> dict:
    env = dict(os.environ)
    env.update(SDJOBS_LIBRARY=str(lib), SDJOBS_RUNNER_IDLE_EXIT="60", NO_COLOR="1",
               XDG_CACHE_HOME=str(lib.parent / "cache"))
    return env


def timed(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
    return took


def job_timeline(cmd: list[str], env: dict) -> tuple[float, dict[str, float]]:
    """Run a job command with --json; split its wall time using the job record."""
    t0 = time.time()
    start = time.perf_counter()
    proc = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
    rec = json.loads(proc.stdout)
    return took, {
        "CLI start-up to job submitted": rec["created_at"] - t0,
        "submitted to claimed by the runner": rec["started_at"] - rec["created_at"],
        "job running (import, walk, pool fork, render)": rec["finished_at"] - rec["started_at"],
        "job finished to CLI exit": t0 + took - rec["finished_at"],
    }


def stop_runners(env: dict) -> None:
    subprocess.run([*SDJOBS, "runner", "stop"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_runner(env: dict) -> subprocess.Popen:
    proc = subprocess.Popen([*SDJOBS, "runner"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = subprocess.run([*SDJOBS, "runner", "status", "--json"], env=env, capture_output=True, text=True)
        if out.returncode == 0 and str(proc.pid) in out.stdout:
            wait_served(Path(env["SDJOBS_LIBRARY"]))
            return proc
        time.sleep(0.05)
    raise SystemExit("the runner did not start")


def vips_version() -> str:
    try:
        out = subprocess.run(["vipsthumbnail", "--vips-version"], capture_output=True, text=True).stdout
    except OSError:
        return "not installed"
    return out.strip() or "libvips"


def case_vips(files: list[Path], scratch: Path) -> tuple[float, float]:
    out = scratch / "vips"
    out.mkdir()
    cpu = children_cpu()
    took = timed(["vipsthumbnail", "-s", "256", "-o", f"{out}/%s.webp", *map(str, files)])
    cpu = children_cpu() - cpu
    from PIL import Image

    sides = [max(Image.open(p).size) for p in out.glob("*.webp")]
    assert len(sides) == len(files) and set(sides) == {256}, sides
    return took, cpu


FLOOR = """
import multiprocessing as mp, os, sys
from sdjobs.jobs.thumbs import worker as w
out, files = sys.argv[1], sys.argv[2:]
def task(f):
    st = os.stat(f)
    return w.Task(f, st.st_mtime_ns, st.st_size, None, (("256", 256),), "webp", 80, out, True, (), "0", True)
with mp.get_context("fork").Pool(2) as pool:
    assert all(o.kind == "rendered" for o in pool.imap(w.run, map(task, files)))
"""


def case_floor(files: list[Path], scratch: Path) -> tuple[float, float]:
    """The same work with no CLI, store or runner: one Python process and a fork Pool(2)."""
    cpu = children_cpu()
    took = timed([sys.executable, "-c", FLOOR, str(scratch), *map(str, files)])
    return took, children_cpu() - cpu


def check_sidecars(lib: Path, sizes: list[str], n_files: int) -> None:
    """Every thumbnail has the requested longest side (the sources are all larger)."""
    import sqlite3

    con = sqlite3.connect(lib)
    rows = con.execute("SELECT size, width, height FROM thumbnail").fetchall()
    con.close()
    assert len(rows) == n_files * len(sizes), (len(rows), n_files, sizes)
    assert all(max(w, h) == size for size, w, h in rows), rows


def case_sdjobs(folder: Path, scratch: Path, sizes: list[str], *, runner: bool, rerun: bool = False,
                phases: dict | None = None) -> tuple[float, float | None]:
    lib = scratch / "lib" / "library.db"
    env = env_for(lib)
    args = [*SDJOBS, "thumbs", str(folder), "--format", "webp"]
    for s in sizes:
        args += ["--size", s]
    proc = start_runner(env) if runner else None
    try:
        if rerun:
            timed(args, env)
        cpu = children_cpu(proc.pid) if proc else None
        took, split = job_timeline(args, env)
        if proc:
            wait_reaped(proc.pid)
            cpu = children_cpu(proc.pid) - cpu
        check_sidecars(lib, sizes, len(list(folder.glob("*.jpg"))))
        if phases is not None:
            for k, v in split.items():
                phases.setdefault(k, []).append(v)
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        stop_runners(env)
    return took, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=BENCH_DIR / "thumbs",
                        help="sources in DIR/photos, scratch output in DIR too (default $SDJOBS_BENCH_DIR/thumbs)")
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--save", action="store_true", help="write the table to bench/results/thumbs.md")
    args = parser.parse_args(argv)
    folder = args.dir / "photos"
    files = ensure_images(folder, args.count)
    vips = shutil.which("vipsthumbnail")
    cases = {}
    VIPS, AUTO, RUN = "vipsthumbnail -s 256 -o %s.webp", "runner auto-started", "runner running"
    split: dict[str, dict[str, list[float]]] = {AUTO: {}, RUN: {}}
    if vips:
        cases[VIPS] = lambda s: case_vips(files, s)
    FLOOR_NAME = "floor: the job's worker over a fork Pool(2), no CLI/runner/store"
    cases[FLOOR_NAME] = lambda s: case_floor(files, s)
    for mode, running in ((AUTO, False), (RUN, True)):
        for sizes in (["256"], ["1024"], ["256", "512", "1024"]):
            name = f"sdjobs thumbs --size {','.join(sizes)} ({mode})"
            cases[name] = (lambda s, sizes=sizes, running=running, mode=mode: case_sdjobs(
                folder, s, sizes, runner=running, phases=split[mode] if sizes == ["256"] else None))
    cases[f"sdjobs thumbs re-run, unchanged ({RUN})"] = lambda s: case_sdjobs(folder, s, ["256"], runner=True,
                                                                               rerun=True)
    times: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        for name, fn in cases.items():
            with tempfile.TemporaryDirectory(prefix="scratch-", dir=args.dir) as tmp:
                took, cpu = fn(Path(tmp))
            times[name].append(took)
            if cpu is not None:
                cpus[name].append(cpu)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med.get(VIPS)
    mb = sum(f.stat().st_size for f in files) / 1e6
    big = sum(1 for f in files if "4000x3000" in f.name)
    load = os.getloadavg()[0]
    lines = [
        f"`sdjobs thumbs` vs vipsthumbnail ({vips_version()}): {len(files)} JPEGs ({big} of 4000x3000,"
        f" {len(files) - big} of 1920x1080, {mb:.0f} MB), webp, warm cache, {os.cpu_count()} cores,"
        f" median of {args.runs} rounds, CLI wall time (exec to exit); load average {load_before:.1f} before,"
        f" {load:.1f} at the end; {cpu_check()}.",
        "",
        "| case | median s | min s | vs vipsthumbnail | vs --size 256 | vs --size 1024 | median CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in med.items():
        vs = f"{m / base:.2f}x" if base else "n/a"
        vs256 = vs1024 = ""
        if name.startswith("sdjobs") and "re-run" not in name:
            mode = RUN if RUN in name else AUTO
            vs256 = f"{m / med[f'sdjobs thumbs --size 256 ({mode})']:.2f}x"
            vs1024 = f"{m / med[f'sdjobs thumbs --size 1024 ({mode})']:.2f}x"
        cpu = f"{statistics.median(cpus[name]):.2f}" if cpus[name] else ""
        lines.append(f"| {name} | {m:.3f} | {min(times[name]):.3f} | {vs} | {vs256} | {vs1024} | {cpu} |")
    lines += ["", "Where the time of `sdjobs thumbs --size 256` goes (medians, from the job record's timestamps):",
              "", f"| step | {AUTO} s | {RUN} s |", "|---|---:|---:|"]
    for step in split[RUN]:
        lines.append(f"| {step} | {statistics.median(split[AUTO][step]):.3f} |"
                     f" {statistics.median(split[RUN][step]):.3f} |")
    lines += ["", "Targets (issue 5): `--size 256` in at most 0.5x the wall time of vipsthumbnail; three variants"
              " in at most 1.5x one variant (shown against --size 256 and against the largest, --size 1024,"
              " alone). The floor row is the rendering alone; the second table shows what the CLI and the"
              " runner add on top. Both sides write every thumbnail to a file; the sidecars are checked to"
              " have a longest side of exactly 256."]
    if not vips:
        lines.append("")
        lines.append("vipsthumbnail not found (install libvips-tools): no reference column.")
    table = "\n".join(lines)
    print(table)
    if args.save:
        out = HERE / "results" / "thumbs.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(table + "\n")
        print(f"saved to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
