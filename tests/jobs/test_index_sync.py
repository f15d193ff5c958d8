"""A library that stays true after sdjobs' own operations (issue 15, point 8), through the CLI
with real runners. The oracle is the tree on disk (os.walk with the index's rules, the
helpers of the index tests) and a re-index finding nothing to change, never the index's word."""

from __future__ import annotations

import json
import os
import signal

import pytest
from conftest import wait_for
from index_helpers import entries, expected, location, make_tree, subtree_sums


def index(cli, root) -> dict:
    proc = cli("index", root, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["output"]


def assert_index_is_the_tree(lib, root) -> None:
    """Entries, subtree totals and location totals are what is on disk."""
    got = entries(lib, root)
    want = expected(root)
    assert set(got) == want, (sorted(set(got) - want), sorted(want - set(got)))
    sums = subtree_sums(root, want)
    for rel, (nbytes, files) in sums.items():
        assert got[rel][4:6] == (nbytes, files), rel
    loc = location(lib, root)
    files = [rel for rel in want if os.path.isfile(os.path.join(root, rel)) and not os.path.islink(os.path.join(root, rel))]
    assert loc["entries"] == len(want)
    assert loc["total_size"] == sum(os.lstat(os.path.join(root, r)).st_size for r in files)


def assert_reindex_changes_nothing(cli, root, *, reads: int | None = 0) -> None:
    out = index(cli, root)
    assert (out["new"], out["modified"], out["moved"], out["deleted"]) == (0, 0, 0, 0), out
    if reads is not None:
        assert out["identified"] == reads, out


def validate_missing(cli, root) -> list[str]:
    proc = cli("validate", "--mode", "basic", root, "--json")
    issues = json.loads(proc.stdout)["issues"] if proc.stdout.strip().startswith("{") else json.loads(proc.stdout)
    return [i["path"] for i in issues if i["kind"] == "missing"]


def dupes_paths(cli, root) -> set[str]:
    proc = cli("dupes", root, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    groups = data["groups"] if isinstance(data, dict) else data
    return {p for g in groups for p in g["paths"]}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    for d in ("photos/2020", "photos/2021"):
        (root / d).mkdir(parents=True)
    for i in range(6):  # three pairs of duplicates
        (root / "photos" / ("2020" if i % 2 else "2021") / f"img{i}.jpg").write_bytes(b"photo %d" % (i // 2) * 500)
    return root


@pytest.mark.parametrize("mode", ["trash", "permanent"])
def test_a_delete_is_forgotten_by_the_index_in_the_same_job(cli, lib, tree, mode):
    index(cli, tree)
    assert dupes_paths(cli, tree) >= {str(tree / "photos/2020/img1.jpg"), str(tree / "photos/2021/img0.jpg")}
    gone = [tree / "photos/2020/img1.jpg", tree / "docs/deep", tree / "photos/2021/img2.jpg"]
    args = ["delete", *gone] + (["--mode", "permanent", "--yes"] if mode == "permanent" else [])
    assert cli(*args).returncode == 0
    assert not any(os.path.lexists(p) for p in gone)
    assert validate_missing(cli, tree) == []
    listed = dupes_paths(cli, tree)
    assert not listed & {str(p) for p in gone}
    assert listed == {str(tree / "photos/2021/img4.jpg"), str(tree / "photos/2020/img5.jpg")}
    assert_index_is_the_tree(lib, tree)
    assert_reindex_changes_nothing(cli, tree)


def test_a_delete_sdjobs_did_not_do_is_still_reported(cli, lib, tree):
    """The index forgets only what is gone: a file removed behind sdjobs' back stays missing."""
    index(cli, tree)
    os.unlink(tree / "docs/a.txt")
    assert cli("delete", tree / "src").returncode == 0
    assert validate_missing(cli, tree) == [str(tree / "docs/a.txt")]


def test_a_killed_delete_leaves_the_index_true_once_resumed(cli, lib, store, tree, start_runner):
    bulk = tree / "bulk"
    bulk.mkdir()
    names = [bulk / f"f{i:03d}" for i in range(60)]
    for p in names:
        p.write_bytes(os.urandom(4096))
    index(cli, tree)
    job = store.submit("delete", 1, {"paths": [str(p) for p in names], "mode": "permanent", "yes": True,
                                     "library": str(lib)}, settings={"bwlimit": 40 * 4096})  # ~40 files/s
    start_runner()
    wait_for(lambda: sum(not p.exists() for p in names) >= 20 and store.get(job).pid, what="a third deleted")
    os.kill(store.get(job).pid, signal.SIGKILL)
    assert cli("jobs", "wait", job, timeout=60).returncode == 0
    rec = store.get(job)
    assert rec.attempts == 1 and not any(p.exists() for p in names)
    assert validate_missing(cli, tree) == []
    assert_index_is_the_tree(lib, tree)
    assert_reindex_changes_nothing(cli, tree)


def test_copy_into_an_indexed_location_is_indexed(cli, lib, tree, tmp_path):
    index(cli, tree)
    ext = tmp_path / "ext"
    (ext / "trip" / "day1").mkdir(parents=True)
    (ext / "trip" / "day1" / "a.jpg").write_bytes(b"trip a" * 300)
    (ext / "trip" / "day1" / "same.jpg").write_bytes(b"photo 0" * 500)  # a duplicate of img0/img1
    (ext / "trip" / "notes.log").write_text("left out by the location's .gitignore (*.log)")
    (ext / "trip" / ".DS_Store").write_text("left out by its rules")
    os.symlink("day1/a.jpg", ext / "trip" / "link")
    assert cli("copy", ext / "trip", tree / "photos").returncode == 0
    got = entries(lib, tree)
    assert {"photos/trip", "photos/trip/day1/a.jpg", "photos/trip/link"} <= set(got)
    assert "photos/trip/notes.log" not in got and "photos/trip/.DS_Store" not in got
    assert_index_is_the_tree(lib, tree)
    assert_reindex_changes_nothing(cli, tree, reads=2)  # the next index reads just the two new files
    assert str(tree / "photos/trip/day1/same.jpg") in dupes_paths(cli, tree)


def test_move_between_indexed_locations_carries_the_entries(cli, lib, tree, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    index(cli, tree)
    index(cli, other)
    before = entries(lib, tree)
    assert cli("copy", "--move", tree / "photos/2020", other).returncode == 0
    moved = entries(lib, other)
    assert set(moved) == {"2020", "2020/img1.jpg", "2020/img3.jpg", "2020/img5.jpg"}
    for name in ("img1.jpg", "img3.jpg", "img5.jpg"):  # content ids come along: nothing to read again
        assert moved[f"2020/{name}"][2] == before[f"photos/2020/{name}"][2] is not None
    assert validate_missing(cli, tree) == [] and validate_missing(cli, other) == []
    assert_index_is_the_tree(lib, tree)
    assert_index_is_the_tree(lib, other)
    assert_reindex_changes_nothing(cli, tree)
    assert_reindex_changes_nothing(cli, other)
    both = dupes_paths(cli, tree) | dupes_paths(cli, other)
    assert str(tree / "photos/2020/img1.jpg") not in both


def test_a_move_within_a_location_across_file_systems_is_recorded(cli, lib, tree, tmp_path):
    """A move that cannot rename (the walk-and-remove path, through a file that must be copied
    because a target directory exists) still leaves the index as the tree."""
    (tree / "src" / "2021").mkdir()
    (tree / "src" / "2021" / "keep.txt").write_text("in the way of a rename")
    index(cli, tree)
    assert cli("copy", "--move", tree / "photos/2021", tree / "src").returncode == 0
    assert not (tree / "photos/2021").exists() and (tree / "src/2021/img0.jpg").exists()
    assert validate_missing(cli, tree) == []
    assert_index_is_the_tree(lib, tree)
    assert_reindex_changes_nothing(cli, tree)


def test_a_whole_location_deleted_is_forgotten(cli, lib, tmp_path):
    root = tmp_path / "gone"
    root.mkdir()
    (root / "f").write_text("x")
    index(cli, root)
    assert cli("delete", root).returncode == 0
    assert location(lib, root) is None
    assert cli.json("locations", "ls") == []


def test_nothing_indexed_costs_nothing(cli, lib, tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    (src / "f").write_text("x")
    assert cli("copy", src, tmp_path / "d").returncode == 0
    assert cli("delete", tmp_path / "d").returncode == 0
    assert entries(lib, tmp_path / "d") == {}


def test_the_queries_of_a_subtree_read_only_that_subtree(cli, lib, store, tree):
    """Forgetting or listing one path of a big location must not read the whole location:
    every query of a subtree is a range of the (location_id, path) index."""
    from sdjobs.store import index_store, index_sync

    index(cli, tree)
    seen: list[str] = []
    store._db.connection().set_trace_callback(seen.append)
    try:
        list(index_store.entries_under(store, tree / "docs"))
        (tree / "docs" / "a.txt").unlink()
        index_sync.forget_gone(store, [str(tree / "docs" / "a.txt"), str(tree / "docs")])
    finally:
        store._db.connection().set_trace_callback(None)
    subtree = [q for q in seen if "FROM entry" in q and ">=" in q]
    assert len(subtree) >= 3
    conn = store._db.connection()
    for q in subtree:
        plan = " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + q))
        assert "path>? AND path<?" in plan or "path>" in plan, (q, plan)
