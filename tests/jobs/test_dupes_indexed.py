"""dupes over an indexed location: answered from the stored hashes, and every
kind of change since the index is seen (the groups equal a brute-force
comparison of what is on disk)."""

from __future__ import annotations

import os
import random
import shutil

import pytest
from dupes_helpers import brute_force, found, make_tree, run_inline, write

from sdjobs.jobs.dupes.results import results_of


@pytest.fixture
def indexed(store, lib, tmp_path):
    root = tmp_path / "tree"
    make_tree(root)
    rec = run_inline(store, "index", {"path": str(root), "full_hash": True})
    assert rec.status == "completed", rec.error
    return root


def dupes(store, lib, **config):
    config.setdefault("library", str(lib))
    rec = run_inline(store, "dupes", config)
    assert rec.status == "completed", (rec.status, rec.error)
    return rec.output, results_of(store, rec.id)


def test_unchanged_reads_nothing(store, lib, indexed):
    out, res = dupes(store, lib, paths=[str(indexed)])
    assert found(res) == brute_force([indexed])
    assert out["read_bytes"] == 0 and out["from_index"] == out["candidates"] > 0
    assert out["scanned"] == sum(1 for p in indexed.rglob("*") if p.is_file() and not p.is_symlink()
                                 and p.stat().st_size > 0)
    none, _ = dupes(store, lib, paths=[str(indexed)], use_index=False)
    assert {k: out[k] for k in ("groups", "duplicates", "wasted")} == \
        {k: none[k] for k in ("groups", "duplicates", "wasted")}


def test_the_same_document_as_without_the_index(store, lib, indexed):
    """Same groups, same order, same paths in each: only the counters differ."""
    _, res = dupes(store, lib, paths=[str(indexed)])
    _, none = dupes(store, lib, paths=[str(indexed)], use_index=False)
    assert res["groups"] == none["groups"]


def test_same_size_change_in_place_is_read_again(store, lib, indexed):
    victim = indexed / "s8192" / "sub" / "b"
    blob = bytearray(victim.read_bytes())
    blob[100] ^= 1
    st = victim.stat()
    victim.write_bytes(bytes(blob))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    out, res = dupes(store, lib, paths=[str(indexed)])
    assert found(res) == brute_force([indexed])
    assert not any(str(victim) in g["paths"] for g in res["groups"])
    assert out["read_bytes"] == 8192


def test_removed_files_and_directories_drop_out(store, lib, indexed):
    os.unlink(indexed / "s300000" / "a")              # one of four copies
    shutil.rmtree(indexed / "s70000" / "sub")          # a directory holding a copy
    os.unlink(indexed / "s4097" / "a")
    os.unlink(indexed / "s4097" / "sub" / "b")         # a group of three down to one
    out, res = dupes(store, lib, paths=[str(indexed)])
    assert found(res) == brute_force([indexed])
    assert not any(g["size"] == 4097 for g in res["groups"])
    assert out["read_bytes"] == 0


def test_new_files_join_groups(store, lib, indexed):
    only = (indexed / "links" / "only").read_bytes()   # a single copy in the index
    write(indexed / "new-dir" / "deeper" / "only-copy", only)
    write(indexed / "s100" / "a-again", (indexed / "s100" / "a").read_bytes())
    write(indexed / "s100" / "fresh", b"x" * 100)      # same size, other content
    out, res = dupes(store, lib, paths=[str(indexed)])
    assert found(res) == brute_force([indexed])
    g = next(g for g in res["groups"] if str(indexed / "new-dir" / "deeper" / "only-copy") in g["paths"])
    assert str(indexed / "links" / "only") in g["paths"]
    assert len(next(g for g in res["groups"] if g["size"] == 100)["paths"]) == 4


def test_a_replaced_directory_is_not_trusted(store, lib, indexed):
    """A new directory under the same name, its files with the same names,
    sizes and mtimes but other content (and inodes): they are read."""
    d = indexed / "s32768"
    shutil.move(d, indexed / "moved-away")
    shutil.copytree(indexed / "moved-away", d, symlinks=True)  # copy2: mtimes kept
    shutil.rmtree(indexed / "moved-away")
    victim = d / "a"
    st = victim.stat()
    victim.write_bytes(b"z" * st.st_size)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    out, res = dupes(store, lib, paths=[str(indexed)])
    assert found(res) == brute_force([indexed])
    assert not any(str(victim) in g["paths"] for g in res["groups"])
    assert out["read_bytes"] > 0


def test_subdirectory_and_symlinked_spelling(store, lib, indexed, tmp_path):
    out, res = dupes(store, lib, paths=[str(indexed / "s300000")])
    assert found(res) == brute_force([indexed / "s300000"])
    assert out["read_bytes"] == 0
    link = tmp_path / "via-link"
    os.symlink(indexed, link)
    _, res = dupes(store, lib, paths=[str(link)])
    assert found(res) == {frozenset(p.replace(str(indexed), str(link), 1) for p in g)
                          for g in brute_force([indexed])}


def test_gitignore_inside_the_location(store, lib, tmp_path):
    root = tmp_path / "g"
    rng = random.Random(3)
    blob = rng.randbytes(3000)
    for name in ("a.bin", "b.log", "sub/c.bin", "sub/deep/d.log", "sub/deep/e.bin"):
        write(root / name, blob)
    write(root / "sub" / ".gitignore", b"*.log\n")
    assert run_inline(store, "index", {"path": str(root), "full_hash": True}).status == "completed"
    out, res = dupes(store, lib, paths=[str(root)])
    assert found(res) == {frozenset(str(root / n) for n in ("a.bin", "b.log", "sub/c.bin", "sub/deep/e.bin"))}
    assert out["read_bytes"] == 0
    os.unlink(root / "sub" / "deep" / "e.bin")
    _, res = dupes(store, lib, paths=[str(root / "sub")])
    assert found(res) == set()


def test_a_dry_run_plan_from_the_index(store, lib, indexed):
    out, res = dupes(store, lib, paths=[str(indexed)], then="trash", keep="oldest")
    assert out["read_bytes"] == 0
    assert found(res) == brute_force([indexed])
    from sdjobs.jobs.dupes.results import read_results

    planned = read_results(out["results_file"])["groups"]  # the plan file, with the mtimes
    assert [g["keep"] for g in planned] == [g["keep"] for g in res["groups"]]
    for g in planned:
        assert len(g["mtimes"]) == len(g["paths"])
        assert g["keep"] == g["paths"][min(range(len(g["paths"])), key=lambda i: (g["mtimes"][i], i))]


def test_digest_is_the_indexers():
    """dupes' check of an indexed tree and the indexer (both its walk and its verify) use the one
    child_key of fs/walker.py, and it is the stored digests' format: an independent formula."""
    import struct

    from xxhash import xxh3_64_intdigest

    from sdjobs.fs import walker
    from sdjobs.jobs.dupes import verify
    from sdjobs.jobs.index import verify as index_verify

    assert verify.child_key is walker.child_key is index_verify.child_key
    rng = random.Random(5)
    for _ in range(100):
        args = (rng.randbytes(rng.randrange(1, 40)), rng.randrange(1 << 40), rng.randrange(1 << 60),
                rng.randrange(1 << 32), rng.randrange(1 << 16), rng.randrange(-(1 << 62), 1 << 62))
        assert walker.child_key(*args) == xxh3_64_intdigest(args[0] + struct.pack("<QQQQq", *args[1:]))


def test_gitignore_deep_inside_a_unit(store, lib, tmp_path):
    """A .gitignore below the levels the check splits into units is met by the lean walk of a
    unit, which applies it as the indexer did: the unchanged tree is all vouched for (nothing
    read), and a change below it is still seen."""
    root = tmp_path / "g"
    blob = random.Random(4).randbytes(3000)
    deep = root / "l1" / "l2" / "l3" / "l4"
    for rel in ("a.bin", "l1/l2/l3/l4/b.log", "l1/l2/l3/l4/c.bin", "l1/l2/l3/l4/deep/d.log", "l1/l2/x/e.bin"):
        write(root / rel, blob)
    write(deep / ".gitignore", b"*.log\n")
    assert run_inline(store, "index", {"path": str(root), "full_hash": True}).status == "completed"
    out, res = dupes(store, lib, paths=[str(root)])
    assert found(res) == {frozenset(str(root / n) for n in ("a.bin", "l1/l2/l3/l4/c.bin", "l1/l2/x/e.bin"))}
    assert out["read_bytes"] == 0
    write(deep / "deep" / "f.bin", blob)
    write(deep / "deep" / "g.log", blob)
    _, res = dupes(store, lib, paths=[str(root)])
    assert found(res) == {frozenset(str(root / n) for n in ("a.bin", "l1/l2/l3/l4/c.bin", "l1/l2/x/e.bin",
                                                              "l1/l2/l3/l4/deep/f.bin"))}
