"""dupes --then on trees where group members have other hard links (in the same
and in other directories): judged by content, not by what the job says."""

from __future__ import annotations

import hashlib
import os
import random

import pytest
from dupes_helpers import run_inline, write


def make_linked_tree(root, rng: random.Random) -> None:
    contents = [rng.randbytes(rng.choice([1, 100, 4096, 5000, 70_000])) for _ in range(12)]
    for i in range(80):
        path = os.path.join(root, f"d{rng.randrange(4)}", f"f{i}")
        write(path, rng.choice(contents))
        for k in range(rng.choice([0, 0, 1, 2])):  # other names of the same file
            link = os.path.join(root, f"d{rng.randrange(4)}", f"f{i}-link{k}")
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.link(path, link)


def census(root) -> dict[str, set[tuple[int, int]]]:
    """Content digest -> the inodes holding it under ``root``."""
    out: dict[str, set[tuple[int, int]]] = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            out.setdefault(digest, set()).add((st.st_dev, st.st_ino))
    return out


def inode_count(root) -> int:
    """Distinct files under ``root``, while something may be changing it."""
    seen = set()
    for dirpath, _, ns in os.walk(root):
        for n in ns:
            try:
                st = os.lstat(os.path.join(dirpath, n))
            except FileNotFoundError:
                continue
            seen.add((st.st_dev, st.st_ino))
    return len(seen)


def names(root) -> set[str]:
    return {os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("then", ["hardlink", "delete", "trash"])
@pytest.mark.parametrize("hardlinks", [False, True])
def test_no_duplicate_content_left_and_nothing_unique_lost(store, lib, tmp_path, seed, then, hardlinks):
    print("seed", seed)
    root = str(tmp_path / "t")
    make_linked_tree(root, random.Random(seed))
    before, names_before, bytes_before = census(root), names(root), inode_bytes(root)
    rec = run_inline(store, "dupes", {"paths": [root], "then": then, "yes": True, "library": str(lib),
                                      "hardlinks": hardlinks})
    assert rec.status == "completed", (rec.status, rec.error)
    after = census(root)
    assert set(after) == set(before), f"seed {seed}: content lost"
    left = {d: len(inodes) for d, inodes in after.items() if len(inodes) > 1}
    assert left == {}, f"seed {seed}: duplicate content left in distinct files"
    a = rec.output["action"]
    if then == "hardlink":
        assert names(root) == names_before  # every name stays, now a link to the kept file
        assert a["done"] + a["skipped"] == a["files"]
        assert a["skipped"] == 0
        assert a["freed"] == bytes_before - inode_bytes(root)
    else:
        gone = names_before - names(root)
        assert len(gone) == a["files"]


def inode_bytes(root) -> int:
    sizes = {}
    for p in names(root):
        st = os.lstat(p)
        sizes[(st.st_dev, st.st_ino)] = st.st_size
    return sum(sizes.values())


def test_a_leftover_of_a_killed_hard_link_is_dropped(tmp_path):
    """Killed between its link and its rename, a run leaves the kept file under its
    temporary name; the resumed run (same secret, same row) removes it and goes on."""
    from sdjobs.jobs.dupes.act import replace_with_link

    write(tmp_path / "keep", b"x" * 100, mtime_ns=10**18)
    write(tmp_path / "dup", b"x" * 100, mtime_ns=10**18)
    os.link(tmp_path / "keep", tmp_path / ".sdjobs-s3cr3t-7.link")
    why, freed = replace_with_link(str(tmp_path / "dup"), 100, 10**18, str(tmp_path / "keep"), 10**18,
                                   ".sdjobs-s3cr3t-7.link")
    assert (why, freed) == (None, 100)
    assert sorted(os.listdir(tmp_path)) == ["dup", "keep"]
    assert os.path.samefile(tmp_path / "dup", tmp_path / "keep")


@pytest.mark.parametrize("seed", [41, 42])
def test_hardlink_killed_at_a_random_point_then_resumed(cli, store, start_runner, tmp_path, seed):
    """SIGKILL of the whole runner while it replaces duplicates by hard links, then a
    new runner: no duplicate content, nothing lost, no temporary name left behind."""
    from conftest import wait_for

    print("seed", seed)
    rng = random.Random(seed)
    root = str(tmp_path / "t")
    contents = [rng.randbytes(2000) for _ in range(8)]
    for d in range(9):
        os.makedirs(os.path.join(root, f"d{d}"))
    for i in range(1500):
        write(os.path.join(root, f"d{i % 9}", f"f{i}"), contents[i % 8])
        if i % 10 == 0:
            os.link(os.path.join(root, f"d{i % 9}", f"f{i}"), os.path.join(root, f"d{(i + 1) % 9}", f"l{i}"))
    before, names_before = census(root), names(root)
    runner = start_runner()
    job = int(cli("dupes", root, "--then", "hardlink", "--yes", "--detach", check=True).stdout)
    goal = inode_count(root) - rng.randrange(20, 600)
    wait_for(lambda: inode_count(root) <= goal or store.get(job).status not in ("queued", "running"),
             timeout=120, what="some duplicates linked")  # (queued: not claimed yet, on a busy machine)
    runner.kill_group()
    assert store.get(job).status == "running", [(e.kind, e.message) for e in store.events(job)]  # killed mid-way
    start_runner("--exit-when-idle")
    assert cli("jobs", "wait", job, timeout=120).returncode == 0
    assert store.get(job).attempts == 1  # one crash
    after = census(root)
    assert set(after) == set(before) and all(len(v) == 1 for v in after.values()), f"seed {seed}"
    assert names(root) == names_before, f"seed {seed}: a name lost, or a temporary one left"
