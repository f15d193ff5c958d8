"""dupes: groups equal a brute-force comparison; modes, filters, hard links, the index."""

from __future__ import annotations

import os
import random
import shutil
import subprocess

import pytest
from dupes_helpers import RAW, SIZES, brute_force, found, make_tree, run_inline, write

from sdjobs.jobs.dupes.results import results_of


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    make_tree(root)
    return root


def dupes(store, lib, **config):
    config.setdefault("library", str(lib))
    rec = run_inline(store, "dupes", config)
    assert rec.status == "completed", (rec.status, rec.error)
    return rec.output, results_of(store, rec.id)


def test_hash_mode_equals_brute_force(store, lib, tree):
    out, res = dupes(store, lib, paths=[str(tree)])
    assert found(res) == brute_force([tree])
    # every size: the three copies (plus other/copy-N); never the variants, never a symlink
    paths = {p for g in res["groups"] for p in g["paths"]}
    assert not any(p.endswith(("end", "start", "middle", "sym-to-a")) for p in paths)
    assert not any("sym-dir" in p for p in paths)
    assert os.path.join(os.fsdecode(os.fsencode(str(tree))), "other", os.fsdecode(RAW)) in paths
    assert out["groups"] == len(SIZES)
    assert out["wasted"] == sum(g["size"] * (len(g["paths"]) - 1) for g in res["groups"])
    big = next(g for g in res["groups"] if g["size"] == 300_000)
    assert len(big["hash"]) == 32


def test_deep_mode_confirms_the_same_groups(store, lib, tree):
    _, res = dupes(store, lib, paths=[str(tree)], mode="deep")
    assert found(res) == brute_force([tree])


def test_reads_little(store, lib, tmp_path):
    """Same size, different first byte: only the first 4 KiB of each is read."""
    for i in range(4):
        write(tmp_path / "t" / f"f{i}", bytes([i]) + b"x" * 999_999)
    out, res = dupes(store, lib, paths=[str(tmp_path / "t")])
    assert res["groups"] == []
    assert out["read_bytes"] == 4 * 4096


def test_size_groups_staged_whole_read_what_the_passes_would(store, lib, tmp_path):
    """Several size groups, each a small share of the work: each is staged in
    one task (first 4 KiB, last 4 KiB, full), reading exactly what three passes read."""
    rng = random.Random(9)
    sizes = [100_000 + 1000 * k for k in range(5)]
    for size in sizes:
        a = rng.randbytes(size)
        write(tmp_path / "t" / f"{size}-a", a)
        write(tmp_path / "t" / "sub" / f"{size}-a-copy", a)
        write(tmp_path / "t" / f"{size}-b", a[:-1] + bytes([a[-1] ^ 1]))   # same head, other tail
        write(tmp_path / "t" / f"{size}-c", bytes([a[0] ^ 1]) + a[1:])     # other head
    out, res = dupes(store, lib, paths=[str(tmp_path / "t")])
    assert found(res) == brute_force([tmp_path / "t"])
    assert len(res["groups"]) == len(sizes)
    assert out["read_bytes"] == sum(7 * 4096 + 2 * size for size in sizes)
    from sdjobs.jobs.dupes.hashing import staged_group

    size = sizes[0]
    names = [tmp_path / "t" / f"{size}-{n}" for n in ("a", "b", "c")] + [tmp_path / "t" / "sub" / f"{size}-a-copy"]
    keys, errors, nbytes = staged_group([str(p) for p in names] + [str(tmp_path / "gone")], size)
    assert keys[0] == keys[3] and keys[0][0] == "F"
    assert keys[1][0] == "T" and keys[2][0] == "H" and keys[4] is None
    assert [pos for pos, _ in errors] == [4] and nbytes == 7 * 4096 + 2 * size


def test_hard_links_are_one_file_unless_asked(store, lib, tree):
    _, res = dupes(store, lib, paths=[str(tree)])
    s100 = next(g for g in res["groups"] if g["size"] == 100)
    assert not any(p.endswith("a-link") for p in s100["paths"])
    assert not any("links/only" in p for g in res["groups"] for p in g["paths"])
    _, res = dupes(store, lib, paths=[str(tree)], hardlinks=True)
    assert found(res) == brute_force([tree], hardlinks=True)
    only = next(g for g in res["groups"] if any("links/only" in p for p in g["paths"]))
    assert only["wasted"] == 0


def test_empty_files_only_when_asked(store, lib, tree):
    _, res = dupes(store, lib, paths=[str(tree)])
    assert not any(g["size"] == 0 for g in res["groups"])
    _, res = dupes(store, lib, paths=[str(tree)], min_size=0)
    assert found(res) == brute_force([tree], min_size=0)
    assert any(g["size"] == 0 and len(g["paths"]) == 3 for g in res["groups"])


def test_size_and_name_size_modes(store, lib, tree):
    _, res = dupes(store, lib, paths=[str(tree)], mode="size")
    g = next(g for g in res["groups"] if g["size"] == 300_000)
    assert len(g["paths"]) == 6  # a, sub/b, end, start, middle, other/copy
    write(tree / "n1" / "same.txt", b"one")
    write(tree / "n2" / "same.txt", b"two")
    write(tree / "n3" / "same.txt", b"three")
    _, res = dupes(store, lib, paths=[str(tree)], mode="name-size")
    assert found(res) == {frozenset({str(tree / "n1" / "same.txt"), str(tree / "n2" / "same.txt")})}


def test_filters(store, lib, tree):
    _, res = dupes(store, lib, paths=[str(tree)], min_size=4096, max_size=32768)
    assert {g["size"] for g in res["groups"]} == {4096, 4097, 8191, 8192, 32768}
    write(tree / "pics" / "x.JPG", b"jpeg-ish" * 100)
    write(tree / "pics" / "y.jpg", b"jpeg-ish" * 100)
    write(tree / "pics" / "z.png", b"jpeg-ish" * 100)
    _, res = dupes(store, lib, paths=[str(tree)], ext=["jpg"])
    assert found(res) == {frozenset({str(tree / "pics" / "x.JPG"), str(tree / "pics" / "y.jpg")})}


def test_several_roots_and_overlap(store, lib, tree):
    _, res = dupes(store, lib, paths=[str(tree / "s300000"), str(tree / "other")])
    g = next(g for g in res["groups"] if g["size"] == 300_000)
    assert g["paths"][0].startswith(str(tree / "s300000"))  # argument order first
    assert g["paths"][-1] == str(tree / "other" / "copy-300000")
    _, res = dupes(store, lib, paths=[str(tree), str(tree / "s100")])  # nested: each file once
    assert found(res) == brute_force([tree])


def test_rules_skip_gitignored(store, lib, tmp_path):
    write(tmp_path / "r" / "a.bin", b"same" * 100)
    write(tmp_path / "r" / "b.log", b"same" * 100)
    write(tmp_path / "r" / ".gitignore", b"*.log\n")
    _, res = dupes(store, lib, paths=[str(tmp_path / "r")])
    assert res["groups"] == []
    _, res = dupes(store, lib, paths=[str(tmp_path / "r")], rules={"gitignore": False})
    assert len(res["groups"]) == 1


def test_unreadable_file_is_an_error_not_a_failure(store, lib, tmp_path):
    if os.getuid() == 0:
        pytest.skip("root reads everything")
    write(tmp_path / "u" / "a", b"q" * 10)
    write(tmp_path / "u" / "b", b"q" * 10)
    write(tmp_path / "u" / "c", b"q" * 10)
    os.chmod(tmp_path / "u" / "c", 0)
    rec = run_inline(store, "dupes", {"paths": [str(tmp_path / "u")], "library": str(lib)})
    assert rec.status == "completed-with-errors"
    assert len(results_of(store, rec.id)["groups"][0]["paths"]) == 2


@pytest.mark.skipif(not shutil.which("jdupes"), reason="jdupes is not installed")
def test_same_groups_as_jdupes(store, lib, tree):
    _, res = dupes(store, lib, paths=[str(tree)])
    proc = subprocess.run(["jdupes", "-r", "-q", os.fsencode(str(tree))], capture_output=True, check=True)
    theirs, cur = set(), []
    for line in proc.stdout.split(b"\n"):
        if line:
            cur.append(line)
        elif cur:
            theirs.add(frozenset(_inode(p) for p in cur))
            cur = []
    ours = {frozenset(_inode(os.fsencode(p)) for p in g["paths"]) for g in res["groups"]}
    assert ours == theirs


def _inode(p: bytes) -> tuple[int, int]:
    st = os.lstat(p)
    return st.st_dev, st.st_ino


def test_answers_from_the_index(store, lib, tree):
    rec = run_inline(store, "index", {"path": str(tree), "full_hash": True})
    assert rec.status == "completed", rec.error
    out, res = dupes(store, lib, paths=[str(tree)])
    assert found(res) == brute_force([tree])
    assert out["read_bytes"] == 0
    assert out["from_index"] == out["candidates"]
    # a copy changes in place (same size, new content and mtime): it is read again
    victim = tree / "s300000" / "sub" / "b"
    data = bytearray(victim.read_bytes())
    data[10] ^= 1
    st = victim.stat()
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    out, res = dupes(store, lib, paths=[str(tree)])
    assert found(res) == brute_force([tree])
    assert out["read_bytes"] == 300_000
    assert out["from_index"] == out["candidates"] - 1
    out, res = dupes(store, lib, paths=[str(tree)], use_index=False)
    assert out["from_index"] == 0 and out["read_bytes"] > 1_000_000


def test_index_without_full_hashes_uses_cas_ids(store, lib, tree):
    rec = run_inline(store, "index", {"path": str(tree)})
    assert rec.status == "completed", rec.error
    out, res = dupes(store, lib, paths=[str(tree)])
    assert found(res) == brute_force([tree])
    big = 2 * (300_000 + 70_000 + 32769)  # files read in full: the copies that are large
    assert out["read_bytes"] < big * 3


def test_lean_walk_finds_what_the_walker_finds(tmp_path):
    """dupes' discovery (the walker's lean form, fs/scan.py) against fs.walker.walk, which
    applies the same rules its own way (sorted, resumable): same files, same counts,
    nested .gitignore files (with a re-inclusion) included."""
    from sdjobs.fs.rules import WalkRules
    from sdjobs.fs.walker import walk
    from sdjobs.jobs.dupes.scan import Filters, _walk_subtree

    def by_walker(rules, filters):
        files, counts = [], [0, 0, 0, 0]
        for e in walk(str(root), rules):
            if e.kind == "file":
                if filters.keep(e.name, e.size):
                    files.append((e.path, e.size, e.inode, e.device, e.mtime_ns, 3))
                else:
                    counts[3] += 1
            else:
                counts[("dir", "symlink").index(e.kind) if e.kind in ("dir", "symlink") else 2] += 1
        return sorted(files), tuple(counts)

    root = tmp_path / "tree"
    make_tree(root)
    write(root / "node_modules" / "x", b"dep")
    write(root / "s100" / ".DS_Store", b"clutter")
    write(root / ".hidden" / "h", b"hidden")
    write(root / "g" / ".gitignore", b"*.log\n!keep.log\nbuild/\n")
    for rel in ("a.log", "keep.log", "b.bin", "build/c.bin", "sub/d.log", "sub/keep.log", "sub/build/e.bin"):
        write(root / "g" / rel, rel.encode())
    write(root / "g" / "sub" / ".gitignore", b"*.bin\n")
    write(root / "g" / "sub" / "f.bin", b"f")
    os.mkfifo(root / "fifo")
    for rules in (WalkRules(), WalkRules(skip_deps=True, skip_hidden=True), WalkRules(skip_system=False),
                  WalkRules(gitignore=False)):
        for filters in (Filters(1), Filters(0, 5000), Filters(0, None, ("bin",))):
            lean, lean_st = _walk_subtree((str(root), 3, rules.to_dict(), filters, True))
            files, counts = by_walker(rules, filters)
            assert sorted(zip(lean.paths, lean.sizes, lean.inos, lean.devs, lean.mtimes, lean.args, strict=True)) == files
            assert (lean_st.dirs, lean_st.symlinks, lean_st.other, lean_st.filtered) == counts, rules
