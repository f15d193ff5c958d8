"""How soon a copy's progress tells the truth: seconds from the job's start (its claim) until
its progress shows the totals, a percent and an ETA, on a tree of 20,000 files and on a folder
of three large files (copied under --bwlimit 100M, so that the copy lasts a few seconds).

    python bench/bench_progress.py [RUNS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sdjobs.store.api import Store  # noqa: E402
from sdjobs.store.library import Library  # noqa: E402


def make(root: Path) -> tuple[Path, Path]:
    tree, large = root / "tree", root / "large"
    for d in range(200):
        (tree / f"d{d:03}").mkdir(parents=True)
        for f in range(100):
            (tree / f"d{d:03}" / f"f{f:03}").write_bytes(b"x" * 2000)
    large.mkdir()
    for i in range(3):
        with open(large / f"big{i}", "wb") as fh:
            for _ in range(100):
                fh.write(os.urandom(1 << 20))
    return tree, large


def probe(lib: Path, src: Path, dst: Path, *extra: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "sdjobs", "copy", str(src), str(dst), "--detach", *extra],
                         capture_output=True, text=True, check=True, env={**os.environ, "SDJOBS_LIBRARY": str(lib)})
    job = int(out.stdout)
    store = Store(Library(lib))
    seen: dict[str, float] = {}
    try:
        while True:
            rec = store.get(job)
            now, p = time.time(), rec.progress
            if rec.started_at:
                for key, shown in (("total", p.bytes_total and p.total), ("percent", p.fraction() is not None),
                                   ("eta", p.eta is not None)):
                    if shown and key not in seen:
                        seen[key] = now - rec.started_at
            if rec.status not in ("queued", "running"):
                seen["copy took"] = (rec.finished_at or now) - rec.started_at
                return seen
            time.sleep(0.01)
    finally:
        store.close()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tree, large = make(root)
        lib = root / "lib" / "library.db"
        for name, src, extra in (("20,000 files", tree, ()), ("3 x 100 MB, --bwlimit 100M", large,
                                                               ("--bwlimit", "100M"))):
            for i in range(runs):
                seen = probe(lib, src, root / f"dst-{name[:2]}-{i}", *extra)
                shown = ", ".join(f"{k} {seen[k]:.2f} s" if k in seen else f"{k} never"
                                  for k in ("total", "percent", "eta", "copy took"))
                print(f"{name}: {shown}", flush=True)


if __name__ == "__main__":
    main()
