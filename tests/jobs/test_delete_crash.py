"""delete to the trash under SIGKILL of a real runner, then resumed by another:
the trash oracle (tests/fs/trash_oracle.py) must hold after every trial."""

from __future__ import annotations

import os
import random
import signal
import sys

import pytest
from conftest import wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fs"))
from trash_oracle import trash_problems  # noqa: E402


def trashed(trash: str) -> int:
    try:
        return len(os.listdir(os.path.join(trash, "files")))
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("seed,whole_group", [(301, False), (302, True)])
def test_delete_killed_at_a_random_point_then_resumed(cli, store, start_runner, tmp_path, seed, whole_group):
    """Kill the runner alone (its job process may live on and meet the resumed run) or
    its whole process group, at a random point of a delete of 1,500 paths."""
    print("seed", seed)
    rng = random.Random(seed)
    root = tmp_path / "t"
    originals = {}
    for i in range(1500):
        path = str(root / f"d{i % 5}" / f"n{i % 50}" / f"f{i}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        originals[path] = rng.randbytes(rng.randrange(0, 200))
        with open(path, "wb") as f:
            f.write(originals[path])
    trash = str(tmp_path / "xdg-data" / "Trash")
    runner = start_runner()
    job = int(cli("delete", *originals, "--detach", check=True).stdout)
    goal = rng.randrange(50, 1000)
    wait_for(lambda: trashed(trash) >= goal or store.get(job).status != "running" and trashed(trash) > 0,
             timeout=60, what=f"{goal} files in the trash")
    if whole_group:
        runner.kill_group()
    else:
        os.kill(runner.proc.pid, signal.SIGKILL)
        runner.proc.wait(10)
    start_runner("--exit-when-idle")
    cli("jobs", "wait", job, timeout=120)
    wait_for(lambda: all(not os.path.lexists(p) for p in originals) or store.get(job).status != "running",
             timeout=60, what="the job to end")
    runner.kill_group()  # what may be left of the first run
    assert store.get(job).status == "completed"
    assert trash_problems(trash, originals) == [], f"seed {seed}"
    assert not any(os.path.lexists(p) for p in originals)
