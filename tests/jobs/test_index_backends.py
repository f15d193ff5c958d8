"""The index, dupes from the index, validate, ``sdjobs locations`` and thumbs through the real
CLI and runner, on an SQLite library and on a PostgreSQL one (issue 18): the same generated
tree gives the groups a brute-force comparison of the files finds, answered from the index
alone (no byte read), before and after changes that a re-index applies (moves, deletions,
edits); thumbnails are shared by identical images, moved with their file, and pruned with it.

The PostgreSQL case is skipped with pgtest's message when there is no cluster. The seed of
the tree is printed: ``SDJOBS_TEST_SEED=N`` replays it. The sequences of copy, move and delete
of ``test_index_sync_generated.py`` run on PostgreSQL too (``SDJOBS_SEEDS=1,2,3`` for more).
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
    shutil.copyfile(root / "s8192" / "a", root / "added-copy")  # (first: a deletion below may take the source)
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


# -- copy, move and delete keep a PostgreSQL index true (test_index_sync_generated's sequences) --
def _index_of(url: str, root: str) -> tuple[dict[str, tuple], object]:
    """relative path -> (kind, size, cas_id, full_hash, subtree_size, subtree_files), and the
    location's row, as the library holds them (read through the data plane's verbs)."""
    from sdjobs.store.data_plane import open_data_plane
    from sdjobs.store.open import open_store

    store = open_store(url)
    try:
        data = open_data_plane(store)
        got = {os.path.relpath(e.path, root): (e.kind, e.size, e.cas_id, e.full_hash, e.subtree_size,
                                               e.subtree_files) for e in data.entries_under(root)}
        return got, data.find_location(root)
    finally:
        store.close()


@pytest.mark.parametrize("seed", [int(s) for s in os.environ.get("SDJOBS_SEEDS", "11,2026").split(",")])
def test_copy_move_and_delete_keep_a_postgresql_index_true(tmp_path, postgres_url, monkeypatch, seed):
    from index_helpers import expected, subtree_sums
    from test_index_sync_generated import free_name, grow, pick

    for k, v in {"SDJOBS_LIBRARY": postgres_url, "SDJOBS_RUNNER_IDLE_EXIT": "3", "NO_COLOR": "1",
                 "XDG_DATA_HOME": str(tmp_path / "xdg-data"), "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
                 "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}.items():
        monkeypatch.setenv(k, v)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sdjobs", *args], capture_output=True, text=True, timeout=180,
                              errors="surrogateescape")

    rng = random.Random(seed)
    locs, ext = [str(tmp_path / "one"), str(tmp_path / "two")], str(tmp_path / "ext")
    done: list[str] = []
    try:
        for root in locs:
            grow(rng, root)
            with open(os.path.join(root, ".gitignore"), "w") as f:
                f.write("*.log\n")  # what index_helpers.expected assumes
            assert cli("index", root).returncode == 0
        grow(rng, ext)
        for _ in range(5):
            op = rng.choice(["delete", "trash", "copy-in", "copy-across", "move-across", "move-within"])
            here, there = rng.sample(locs, 2)
            if op in ("delete", "trash"):
                victim = pick(rng, here)
                if victim is None:
                    continue
                args = ["delete", victim] + (["--mode", "permanent", "--yes"] if op == "delete" else [])
            else:
                src = pick(rng, ext if op == "copy-in" else here, top_ok=op == "copy-in")
                dest_dir = pick(rng, here if op == "move-within" else there, dirs_only=True, top_ok=True)
                if src is None or dest_dir is None or dest_dir == src or dest_dir.startswith(src + "/"):
                    continue
                args = ["copy", src, free_name(dest_dir, os.path.basename(src))] + \
                    (["--move"] if op.startswith("move") else [])
            proc = cli(*args)
            done.append(" ".join([args[0], *(os.path.relpath(a, tmp_path) if a.startswith("/") else a
                                              for a in args[1:])]))
            assert proc.returncode == 0, f"seed {seed}: {done}: {proc.stderr}"
        for root in locs:
            got, loc = _index_of(postgres_url, root)
            want = expected(root)
            where = f"seed {seed}, operations {done}"
            assert set(got) == want, (where, sorted(set(got) - want), sorted(want - set(got)))
            for rel, (nbytes, files) in subtree_sums(root, want).items():
                assert got[rel][4:6] == (nbytes, files), (where, rel)
            files = [r for r in want if os.path.isfile(os.path.join(root, r)) and not os.path.islink(os.path.join(root, r))]
            assert (loc.entries, loc.total_size) == (len(want), sum(os.lstat(os.path.join(root, r)).st_size
                                                                    for r in files)), where
            again = json.loads(cli("index", root, "--json").stdout)["output"]
            assert (again["new"], again["modified"], again["moved"], again["deleted"]) == (0, 0, 0, 0), (where, again)
    finally:
        cli("runner", "stop")
