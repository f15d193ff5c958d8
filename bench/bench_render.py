"""Time render_variants over a Pool(2) against vipsthumbnail.

    python bench/gen_images.py /tmp/photos --count 30
    python bench/bench_render.py /tmp/photos [--runs 5] [--fmt webp] [--stages]

Each case is timed as wall time for the whole directory, median of ``--runs``
runs, cases interleaved run by run so drift hits them all alike. Both sides
write their thumbnails to files; our side includes creating and joining the
pool. The vips command is ``vipsthumbnail -s 256 -o OUT/%s.webp FILES``
(``-o`` points into a scratch dir instead of next to the sources; same work).

``--stages`` instead splits the CPU time of each case by pipeline step, in
this one process (median of ``--runs``): where the time of a large variant
goes (decode at a scale that covers it, resize, orientation, the smaller
variants, encoding).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdjobs.imaging import render
from sdjobs.imaging.render import OutputFormat, render_variants

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".bmp"}


def _render_one(job: tuple[str, list[int], OutputFormat, int, str]) -> int:
    path, sizes, fmt, quality, out_dir = job
    written = 0
    for r in render_variants(path, sizes, fmt, quality):
        out = Path(out_dir) / f"{Path(path).stem}_{r.size}.{fmt}"
        out.write_bytes(r.data)
        written += len(r.data)
    return written


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of reaped child processes (robust to a busy box)."""
    cpu0, start = _children_cpu(), time.perf_counter()
    run()
    return time.perf_counter() - start, _children_cpu() - cpu0


def time_pool(files: list[Path], sizes: list[int], fmt: OutputFormat, quality: int, out: Path) -> tuple[float, float]:
    jobs = [(str(f), sizes, fmt, quality, str(out)) for f in files]

    def run() -> None:
        with mp.get_context("fork").Pool(2) as pool:
            for _ in pool.imap_unordered(_render_one, jobs, chunksize=1):
                pass
            pool.close()
            pool.join()  # reap the workers so their CPU time is counted

    return _timed(run)


def time_vips(files: list[Path], out: Path) -> tuple[float, float]:
    cmd = ["vipsthumbnail", "-s", "256", "-o", f"{out}/%s.webp", *map(str, files)]
    return _timed(lambda: subprocess.run(cmd, check=True))


STAGES = ("decode", "resize to largest", "orient", "smaller variants", "encode")


def time_stages(files: list[Path], sizes: list[int], fmt: OutputFormat, quality: int) -> dict[str, float]:
    """CPU seconds per step of ``render_images`` + ``encode`` over ``files``."""
    spent = dict.fromkeys(STAGES, 0.0)
    clock = time.process_time
    for f in files:
        c0 = clock()
        with Image.open(f) as src:
            stored = src.size
            render._draft(src, max(sizes))
            src.load()
            orientation = render._orientation(src)
            work = render._normalise(src)
            c1 = clock()
            target = render.fit_within(*stored, max(sizes))
            if target != work.size:
                work = work.resize(target, render.RESAMPLE, reducing_gap=render.REDUCING_GAP)
            else:
                work = work.copy()
        c2 = clock()
        if orientation in render._TRANSPOSE:
            work = work.transpose(render._TRANSPOSE[orientation])
            stored = (stored[1], stored[0]) if orientation >= 5 else stored
        c3 = clock()
        images = render._cascade(work, stored, sizes)
        c4 = clock()
        for im in {id(im): im for im in images.values()}.values():
            render.encode(im, fmt, quality)
        c5 = clock()
        for step, took in zip(STAGES, (c1 - c0, c2 - c1, c3 - c2, c4 - c3, c5 - c4), strict=True):
            spent[step] += took
    return spent


def print_stages(files: list[Path], cases: dict[str, list[int]], fmt: OutputFormat, quality: int, runs: int) -> None:
    runs_of: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, sizes in cases.items():
            runs_of[name].append(time_stages(files, sizes, fmt, quality))
    print(f"{len(files)} files; CPU s in one process, median of {runs} interleaved runs")
    print(f"{'case':18s}" + "".join(f"{step:>19s}" for step in STAGES) + f"{'total':>8s}")
    for name, results in runs_of.items():
        med = {step: statistics.median(r[step] for r in results) for step in STAGES}
        print(f"{name:18s}" + "".join(f"{med[step]:19.3f}" for step in STAGES) + f"{sum(med.values()):8.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fmt", default="webp", choices=["webp", "jpeg", "png"])
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--resample", help="override render.RESAMPLE (e.g. LANCZOS, HAMMING, BOX)")
    parser.add_argument("--webp-method", type=int, help="override render.WEBP_METHOD (0-6)")
    parser.add_argument("--stages", action="store_true", help="CPU per pipeline step instead of the pool timing")
    args = parser.parse_args(argv)
    # Workers are forked, so overriding the module's tuning knobs here reaches them.
    if args.resample:
        render.RESAMPLE = Image.Resampling[args.resample.upper()]
    if args.webp_method is not None:
        render.WEBP_METHOD = args.webp_method
    files = sorted(p for p in args.dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        parser.error(f"no images in {args.dir}")
    vips = shutil.which("vipsthumbnail")
    fmt: OutputFormat = args.fmt
    q = args.quality
    if args.stages:
        print_stages(files, {f"[256] {fmt}": [256], f"[1024] {fmt}": [1024],
                             f"[256,512,1024] {fmt}": [1024, 512, 256]}, fmt, q, args.runs)
        return 0
    cases: dict[str, Callable[[Path], tuple[float, float]]] = {}
    vips_case, one_case, big_case = "vipsthumbnail -s 256 (webp)", f"[256] {fmt}", f"[1024] {fmt}"
    if vips:
        cases[vips_case] = lambda out: time_vips(files, out)
    cases[one_case] = lambda out: time_pool(files, [256], fmt, q, out)
    cases[big_case] = lambda out: time_pool(files, [1024], fmt, q, out)
    cases[f"[256,512,1024] {fmt}"] = lambda out: time_pool(files, [256, 512, 1024], fmt, q, out)
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        for name, fn in cases.items():
            with tempfile.TemporaryDirectory(prefix="sdjobs-bench-") as tmp:
                w_s, c_s = fn(Path(tmp))
            walls[name].append(w_s)
            cpus[name].append(c_s)
    wall = {name: statistics.median(ts) for name, ts in walls.items()}
    cpu = {name: statistics.median(ts) for name, ts in cpus.items()}
    base = wall.get(vips_case)
    print(f"{len(files)} files in {args.dir}; median of {args.runs} interleaved runs; ours = render_variants "
          f"over Pool(2), quality {q}, resample {render.RESAMPLE.name}, webp method {render.WEBP_METHOD}; "
          f"load avg {load_before:.2f} -> {os.getloadavg()[0]:.2f}")
    print(f"{'case':28s} {'wall s':>7s} {'ms/file':>8s} {'cpu s':>7s} {'vs vips':>8s} {'vs [256]':>9s} "
          f"{'vs [1024]':>10s}")
    for name in cases:
        w = wall[name]
        vs_vips = f"{w / base:.2f}x" if base else "n/a"
        print(f"{name:28s} {w:7.3f} {w * 1000 / len(files):8.1f} {cpu[name]:7.2f} {vs_vips:>8s} "
              f"{w / wall[one_case]:8.2f}x {w / wall[big_case]:9.2f}x")
    if not vips:
        print("vipsthumbnail not found: install libvips-tools for the reference column", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
