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
SDJOBS = [sys.executable, "-m", "sdjobs"]

# Measure sdjobs as installed: `pip install .` leaves compiled bytecode, so every command and
# the auto-started runner load .pyc files. With PYTHONDONTWRITEBYTECODE set (some shells and
# CI images do), an editable install would compile its modules from source at every start.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "sdjobs")],
               stdout=subprocess.DEVNULL, check=False)


def have(tool: str) -> bool:
    ok = shutil.which(tool) is not None
    if not ok:
        print(f"note: {tool} is not installed; skipping it (apt-get install {tool})", file=sys.stderr)
    return ok


def timed(cmd: list[str], *, before=None, env=None, runs: int = 5, check: bool = True) -> list[float]:
    """Wall times of ``runs`` runs of ``cmd``; ``before()`` runs untimed before each one."""
    times = []
    for _ in range(runs):
        if before:
            before()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        times.append(time.perf_counter() - t0)
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


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}"


def rm(path: Path) -> None:
    subprocess.run(["rm", "-rf", str(path)], check=True)


def drop_runner(lib: Path) -> None:
    subprocess.run(SDJOBS + ["--library", str(lib), "runner", "stop"], capture_output=True)
