"""`done` never exceeds `total`: every phase's last counts, as its phase-end event records them."""

from __future__ import annotations

import json
import os
import random


def phase_ends(cli, job) -> list[dict]:
    rows = [json.loads(line) for line in cli("jobs", "logs", job, "--json", check=True).stdout.splitlines()]
    return [r["fields"] for r in rows if r["kind"] == "phase-end"]


def test_dupes_staged_groups_never_read_past_the_phase_total(cli, tmp_path):
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    root = tmp_path / "tree"
    root.mkdir()
    big = rng.randbytes(2 * 1024 * 1024)
    for i in range(4):  # the group that dominates: hashed head and tail, not staged
        (root / f"big{i}").write_bytes(big)
    for g in range(6):  # small groups of true duplicates: staged, read whole beyond their first 4 KiB
        data = rng.randbytes(200 * 1024 + g)
        for i in range(3):
            (root / f"g{g}-{i}").write_bytes(data)
    out = cli("dupes", root, "--detach", check=True)
    job = int(out.stdout)
    assert cli("jobs", "wait", job, timeout=120).returncode == 0
    ends = phase_ends(cli, job)
    assert ends, "no phase-end events"
    for f in ends:
        if f.get("bytes_total") is not None:
            assert f.get("bytes_done", 0) <= f["bytes_total"], (f, f"seed {seed}")
        if f.get("total") is not None:
            assert f.get("done", 0) <= f["total"], (f, f"seed {seed}")
    assert os.path.exists(root / "big0")
