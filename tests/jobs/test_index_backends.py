"""The index, dupes from the index, validate, ``sdjobs locations`` and thumbs through the real
CLI and runner, on an SQLite library and on a PostgreSQL one (issue 18): the same generated
tree gives the groups a brute-force comparison of the files finds, answered from the index
alone (no byte read), before and after changes that a re-index applies (moves, deletions,
edits); thumbnails are shared by identical images, moved with their file, and pruned with it.

The PostgreSQL case is skipped with pgtest's message when there is no cluster. The seed of
the tree is printed: ``SDJOBS_TEST_SEED=N`` replays it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dupes_helpers import brute_force, make_tree, write

ROOT = Path(__file__).parent.parent.parent


def sdjobs(tmp_path: Path, library: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDJOBS_LIBRARY": library, "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
           "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "PYTHONPATH": str(ROOT), "NO_COLOR": "1",
           "SDJOBS_RUNNER_IDLE_EXIT": "3"}
    return subprocess.run([sys.executable, "-m", "sdjobs", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=timeout)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def generated(root: Path, seed: int) -> None:
    """dupes' tree of edge cases, plus random files: some copies of each other, some of the
    tree's, in random folders."""
    make_tree(root, seed)
    rng = random.Random(seed)
    blobs = [rng.randbytes(rng.choice([1, 10, 4096, 5000, 70_000])) for _ in range(6)]
    for i in range(rng.randint(20, 40)):
        folder = root.joinpath(*(f"r{rng.randrange(4)}" for _ in range(rng.randint(1, 3))))
        write(folder / f"f{i}", rng.choice(blobs) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 3000)))


def change(root: Path, seed: int) -> None:
    """What a re-index must apply: a folder moved, files deleted, one edited, one added."""
    rng = random.Random(seed + 1)
    os.rename(root / "s4097", root / "moved-s4097")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    for p in rng.sample(files, 3):
        if p.exists():
            p.unlink()
    edited = next(p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink() and p.stat().st_size > 8)
    data = bytearray(edited.read_bytes())
    data[0] ^= 1
    edited.write_bytes(bytes(data))
    st = edited.stat()
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    shutil.copyfile(root / "s8192" / "a", root / "added-copy")


def groups(tmp_path: Path, library: str, tree: Path) -> tuple[set[frozenset[str]], dict]:
    doc = json.loads(ok(sdjobs(tmp_path, library, "dupes", str(tree), "--json")))
    return {frozenset(g["paths"]) for g in doc["groups"]}, doc["summary"]


@pytest.fixture(params=["sqlite", "postgres"])
def library(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "lib" / "library.db")
        return
    url = request.getfixturevalue("postgres_url")
    yield url


def test_index_then_dupes_from_the_index_equal_the_files(tmp_path, library):
    seed = int(os.environ.get("SDJOBS_TEST_SEED") or random.randrange(1 << 30))
    print(f"seed {seed} (SDJOBS_TEST_SEED={seed} replays it)")
    tree = tmp_path / "tree"
    generated(tree, seed)
    try:
        ok(sdjobs(tmp_path, library, "index", str(tree), "--full-hash"))
        listed = json.loads(ok(sdjobs(tmp_path, library, "locations", "--json")))
        assert [loc["path"] for loc in listed] == [str(tree)]
        for round_ in ("first", "after changes"):
            got, summary = groups(tmp_path, library, tree)
            assert got == brute_force([tree]), f"seed {seed}, {round_}"
            assert summary["read_bytes"] == 0 and summary["from_index"] == summary["candidates"] > 0, summary
            ok(sdjobs(tmp_path, library, "validate", str(tree)))
            if round_ == "first":
                change(tree, seed)
                ok(sdjobs(tmp_path, library, "index", str(tree), "--full-hash"))
    finally:
        sdjobs(tmp_path, library, "runner", "stop")


def test_thumbnails_shared_moved_and_pruned(tmp_path, library):
    from thumbs_images import jpeg

    photos = tmp_path / "photos"
    jpeg(photos / "a.jpg", (400, 300), seed=1)
    jpeg(photos / "b.jpg", (300, 500), seed=2)
    raw = os.path.join(os.fsencode(photos), b"caf\xe9.jpg")  # a name that is not UTF-8
    with open(raw, "wb") as f:
        f.write((photos / "a.jpg").read_bytes())
    try:
        ok(sdjobs(tmp_path, library, "thumbs", str(photos)))
        listed = {i["path"]: i["thumbnails"] for i in json.loads(ok(sdjobs(tmp_path, library, "thumbs", "ls",
                                                                             str(photos), "--json")))}
        assert sorted(listed) == sorted([str(photos / "a.jpg"), str(photos / "b.jpg"), os.fsdecode(raw)])
        assert listed[os.fsdecode(raw)] == listed[str(photos / "a.jpg")]  # one content, one sidecar
        sidecar = Path(listed[str(photos / "b.jpg")][0]["path"])
        assert sidecar.is_file()
        (tmp_path / "moved").mkdir()
        ok(sdjobs(tmp_path, library, "copy", "--move", str(photos / "a.jpg"), str(tmp_path / "moved")))
        moved = json.loads(ok(sdjobs(tmp_path, library, "thumbs", "ls", str(tmp_path / "moved"), "--json")))
        assert [(i["path"], i["thumbnails"]) for i in moved] == [(str(tmp_path / "moved" / "a.jpg"),
                                                                  listed[str(photos / "a.jpg")])]
        os.unlink(photos / "b.jpg")
        pruned = json.loads(ok(sdjobs(tmp_path, library, "thumbs", "prune", "--json")))
        assert (pruned["sources"], pruned["thumbnails"], pruned["files"]) == (1, 1, 1)
        assert not sidecar.exists() and Path(listed[str(photos / "a.jpg")][0]["path"]).is_file()
    finally:
        sdjobs(tmp_path, library, "runner", "stop")
