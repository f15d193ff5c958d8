"""dupes --bwlimit, judged by the kernel's count of bytes the reading workers read
(/proc/PID/io rchar), sampled while the job runs: no half-second window may go over
the limit (plus one batch of slack). An upper bound on a rate: a slow machine only
makes it easier to meet."""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
from dupes_helpers import run_inline

LIMIT = 4 << 20
WINDOW = 0.5


def children_rchar() -> int:
    total = 0
    me = os.getpid()
    for tid in os.listdir(f"/proc/{me}/task"):
        try:
            kids = open(f"/proc/{me}/task/{tid}/children").read().split()
        except OSError:
            continue
        for pid in kids:
            try:
                for line in open(f"/proc/{pid}/io"):
                    if line.startswith("rchar:"):
                        total += int(line.split()[1])
            except OSError:
                pass
    return total


def worst_window(samples: list[tuple[float, int]]) -> float:
    """The most bytes read in any WINDOW seconds, as bytes per second."""
    worst, j = 0.0, 0
    for i in range(len(samples)):
        while samples[i][0] - samples[j][0] > WINDOW:
            j += 1
        if samples[i][0] - samples[j][0] >= WINDOW * 0.8:
            worst = max(worst, (samples[i][1] - samples[j][1]) / (samples[i][0] - samples[j][0]))
    return worst


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs /proc")
@pytest.mark.parametrize("case", ["first 4 KiB", "full hashes"])
def test_no_window_goes_over_the_limit(store, lib, tmp_path, case):
    rng = random.Random(11)
    root = tmp_path / "t"
    root.mkdir()
    if case == "first 4 KiB":  # 2,400 files of one size, different in their first 4 KiB: sparse, cheap
        for i in range(2400):
            with open(root / f"f{i}", "wb") as f:
                f.write(rng.randbytes(4096))
                f.truncate(40_000)
    else:  # 6 pairs of 1 MiB copies: the full pass does the reading
        for i in range(6):
            data = rng.randbytes(1 << 20)
            for name in ("a", "b"):
                (root / f"{name}{i}").write_bytes(data)
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.monotonic(), children_rchar()))
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    try:
        rec = run_inline(store, "dupes", {"paths": [str(root)], "library": str(lib)},
                         settings={"bwlimit": LIMIT})
    finally:
        stop.set()
        t.join()
    assert rec.status == "completed", rec.error
    read = rec.output["read_bytes"]
    worst = worst_window(samples)
    print(f"{case}: read {read:,} bytes, worst {WINDOW}s window {worst / (1 << 20):.2f} MiB/s,"
          f" limit {LIMIT / (1 << 20):.2f}")
    assert read >= 2 * LIMIT * WINDOW  # enough reading for the windows to mean something
    assert worst <= LIMIT * 1.25 + (256 << 10) / WINDOW
