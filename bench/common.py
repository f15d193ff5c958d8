"""Shared benchmark helpers: timing medians, peer detection, markdown tables."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(os.environ.get("SDJOBS_BENCH_DIR", "/tmp/sdjobs-bench"))
ROOT = Path(__file__).resolve().parent.parent

# Measure sdjobs as installed: `pip install .` leaves compiled bytecode, so every command and
# the auto-started runner load .pyc files. With PYTHONDONTWRITEBYTECODE set (some shells and
# CI images do), an editable install would compile its modules from source at every start.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def install(checkout: Path, venv: Path) -> list[str]:
    """The ``sdjobs`` command of ``checkout`` as `pip install .` leaves it (the package and its
    bytecode in site-packages), in the virtualenv ``venv``, which borrows this environment's
    dependencies. A development (editable) install runs an import finder at every interpreter
    start: about 20 ms that users do not pay."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    shutil.rmtree(site / "sdjobs", ignore_errors=True)
    shutil.copytree(checkout / "sdjobs", site / "sdjobs", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([str(python), "-m", "compileall", "-q", str(site / "sdjobs")], stdout=subprocess.DEVNULL, check=True)
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "zz-dependencies.pth").write_text("\n".join(deps) + "\n")
    script = venv / "bin" / "sdjobs"
    shipped = (checkout / "sdjobs" / "cli" / "bin" / "sdjobs").read_text()  # what pip installs, its "#!python" made this one
    script.write_text(f"#!{python}\n" + shipped.split("\n", 1)[1])
    script.chmod(0o755)
    return [str(script)]


def tree_cpu(root_pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants, the reaped ones included."""
    procs: dict[int, tuple[int, int]] = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            text = open(f"/proc/{p}/stat").read()
        except OSError:
            continue
        f = text[text.rfind(")") + 2:].split()
        procs[int(p)] = (int(f[1]), sum(int(x) for x in f[11:15]))
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        if pid in procs:
            total += procs[pid][1]
            stack += kids.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


SDJOBS = install(ROOT, BENCH_DIR / "venv")


def have(tool: str) -> bool:
    ok = shutil.which(tool) is not None
    if not ok:
        print(f"note: {tool} is not installed; skipping it (apt-get install {tool})", file=sys.stderr)
    return ok


# Rest after each timed command, whoever's: a runner forks its spare job process 0.1 s after its
# job ended (runner/spare.py). That is work between commands; it must land in no command's time,
# neither the next peer's nor the next sdjobs command's.
REST = 0.3


def timed(cmd: list[str], *, before=None, env=None, runs: int = 5, check: bool = True) -> list[float]:
    """Wall times of ``runs`` runs of ``cmd``; ``before()`` runs untimed before each one."""
    times = []
    for _ in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        times.append(time.perf_counter() - t0)
        time.sleep(REST)
        if check and proc.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return times


def table(title: str, rows: list[tuple[str, list[float]]], baseline: str, note: str = "") -> str:
    base = statistics.median(dict(rows)[baseline])
    out = [f"### {title}", "", f"| command | median (s) | runs | vs {baseline} |", "|---|---:|---:|---:|"]
    for name, times in rows:
        med = statistics.median(times)
        out.append(f"| `{name}` | {med:.3f} | {len(times)} | {med / base:.2f}x |")
    if note:
        out += ["", note]
    return "\n".join(out) + "\n"


def cpu_check() -> str:
    """How fast this machine runs Python right now: the best of three 10^7-step loops.

    On a shared VM this drifted by up to 1.8x from minute to minute (2026-11-23), which moves
    the sdjobs figures far more than those of cp -a, whose time is spent in the kernel. Each
    table records it, so that two tables can be compared, or a run on a slowed machine set aside."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        n = 0
        for i in range(10_000_000):
            n += i
        best = min(best, time.perf_counter() - t)
    return f"CPU check {best:.2f} s (a 10^7-step Python loop, best of 3)"


def cached_share(paths: list[str]) -> float | None:
    """The share of the bytes of ``paths`` that are in the page cache now (util-linux ``fincore``),
    or None without it (or without paths). "Warm cache" is not a given on every machine: on a VM
    whose memory the host takes back, a 3 GB tree fell from 2.3 GB cached to 0.9 GB within a
    minute of being read."""
    if not shutil.which("fincore"):
        return None
    cached = total = 0
    for i in range(0, len(paths), 2000):
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES,SIZE", *paths[i:i + 2000]],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            res, size = line.split()
            cached, total = cached + min(int(res), int(size)), total + int(size)  # (RES is whole pages)
    return cached / total if total else None


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}, {cpu_check()}"


def rm(path: Path) -> None:
    subprocess.run(["rm", "-rf", str(path)], check=True)


def wait_served(lib: Path, timeout: float = 20.0) -> None:
    """Wait until the runner of ``lib`` has its command server answering: a served command
    never imports typer in the client (the socket file alone can be a dead server's)."""
    sock = lib.with_name(lib.stem + "-data") / "cli.sock"
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.exists():
            probe = subprocess.run(SDJOBS + ["--library", str(lib), "types"], env=env, capture_output=True, text=True)
            if probe.returncode == 0 and "typer" not in probe.stderr:
                return
        time.sleep(0.05)
    print(f"note: no command server answers for {lib} after {timeout:.0f} s", file=sys.stderr)


def drop_runner(lib: Path) -> None:
    subprocess.run(SDJOBS + ["--library", str(lib), "runner", "stop"], capture_output=True)
